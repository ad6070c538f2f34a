"""Rendering with system Chromium, only for pages that need it: what a render does and costs.

Playwright cannot download its own browsers here (nor on many users' servers),
so linkrot launches Debian's Chromium (``LINKROT_CHROMIUM`` to choose another),
preferring its headless shell, with flags that keep it from calling home, and
maps ``LINKROT_RESOLVE`` hosts with ``--host-resolver-rules``.

A render is priced in CPU and memory (measured on ``bench/backlinks.py``): one
browser page is reused for render after render (``linkrot.browser``), only the
document, its scripts and what they fetch are loaded, and the render stops as
soon as the link to our site is there or the network is idle.  The browser runs
in one process with a bounded JS heap, inside ``LINKROT_BROWSER_MEMORY_MB``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import as_int
from .errors import ConfigError
from .guard import POLICY, forbidden_reason, url_host
from .proxy import reserve_port
from .resolver import HostMap
from .urls import registrable_domain

#: tried in this order when LINKROT_CHROMIUM is empty.  The headless shell (Debian's
#: chromium-headless-shell, what Playwright itself runs headless) navigates for half the CPU of
#: the full browser (measured: 52 against 95 ms a page) and fetches no favicon; the full browser's
#: executable is tried next, skipping Debian's wrapper script
CHROMIUM_CANDIDATES = (
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/bin/chromium-headless-shell",
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
)
#: Playwright disables these itself, but Chromium reads only the last --disable-features,
#: so they are repeated in linkrot's (HttpsUpgrades would try https:// first, PaintHolding delays paint)
_PLAYWRIGHT_DISABLED = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
)
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--mute-audio",
    # one renderer process per site is Chromium's default (site isolation); referring pages are on
    # thousands of sites, and spawning a renderer for each cost most of the browser's CPU (measured)
    "--disable-site-isolation-trials",
    "--disable-features="
    + ",".join(
        ("IsolateOrigins", "site-per-process", "Translate", "BackForwardCache", *_PLAYWRIGHT_DISABLED)
    ),
    "--disable-back-forward-cache",  # a page left behind stays alive in the cache: memory for nothing
    "--renderer-process-limit=1",
    "--disable-extensions",
    # images are never fetched nor decoded, not even those named without an extension; Playwright's
    # own headless --blink-settings are repeated, as Chromium reads only the last of them
    "--blink-settings=primaryHoverType=2,availableHoverTypes=2,primaryPointerType=4,availablePointerTypes=4,"
    "imagesEnabled=false",
    "--disable-remote-fonts",
)
#: the browser's process model for a fixed memory budget.  Every Chromium process maps ~100 MiB of
#: the same executable, so fewer processes is most of the saving: the renderer, GPU and network
#: service run inside the browser process (measured on 100 renders: 340 MiB in one process against
#: 450 in three and 1,180 with Chromium's defaults).  A crash or a hang takes the whole browser with
#: it; linkrot.browser relaunches it and renders the pages that were in flight once more.
PROCESS_FLAGS = (
    "--single-process",
    "--no-zygote",
    "--in-process-gpu",
    "--enable-features=NetworkServiceInProcess2",
    "--enable-low-end-device-mode",  # smaller caches and V8 heap growth
)
#: frames on demand, in the headless shell only (``HeadlessExperimental.beginFrame``).  Chromium draws 60
#: frames a second on its own for every page, and a render does not need to see them drawn: that was
#: half of its CPU (measured rendering the JavaScript pages of bench/backlinks.py: 83-89 ms a render
#: against 43 with no frames at all, 48-51 with the 10 a second of ``FRAME_INTERVAL``).  Some scripts need frames (requestAnimationFrame,
#: IntersectionObserver), so ``pump_frames`` gives each rendering page its frames, without drawing them
FRAME_CONTROL_FLAGS = ("--enable-begin-frame-control", "--run-all-compositor-stages-before-draw")
#: seconds between two frames of a rendering page: a requestAnimationFrame chain runs at 10 frames a second
FRAME_INTERVAL = 0.1
#: resource types that cannot change which links the DOM holds (Playwright's names, CDP's in lower case)
_ABORTED_TYPES = frozenset({"image", "font", "media", "stylesheet", "texttrack", "manifest"})
#: hosts (registrable domains) of analytics and ad scripts: they count visits and fill ad slots,
#: they never write a page's own links; a widget host that may (Disqus, Twitter) is not here
TRACKER_DOMAINS = frozenset(
    {
        "google-analytics.com",
        "googletagmanager.com",
        "doubleclick.net",
        "googlesyndication.com",
        "googleadservices.com",
        "adservice.google.com",
        "hotjar.com",
        "clarity.ms",
        "facebook.net",
        "scorecardresearch.com",
        "quantserve.com",
        "newrelic.com",
        "nr-data.net",
        "segment.io",
        "mixpanel.com",
        "amplitude.com",
        "criteo.com",
        "criteo.net",
        "taboola.com",
        "outbrain.com",
        "adnxs.com",
        "pubmatic.com",
        "rubiconproject.com",
        "amazon-adsystem.com",
        "moatads.com",
        "chartbeat.com",
        "chartbeat.net",
    }
)

#: seconds a render may take beyond its navigation and settle bounds before the browser is deemed hung
READ_TIMEOUT = 10.0
#: the JS heap of a page, as a share of LINKROT_BROWSER_MEMORY_MB
_JS_HEAP_SHARE = 4
#: LINKROT_BROWSER_MEMORY_MB is the browser's resident memory; below this it cannot render at all
MIN_MEMORY_MB = 192


@dataclass(frozen=True)
class BrowserConfig:
    """How many pages render at once and how much memory the browser may hold (``LINKROT_*``)."""

    pages: int
    memory_mb: int
    chromium: str | None
    #: linkrot gives the browser's pages their frames (``FRAME_CONTROL_FLAGS``): the headless shell
    frames: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> BrowserConfig:
        pages = as_int("LINKROT_RENDER_PAGES", settings.get("LINKROT_RENDER_PAGES", 0))
        memory = as_int(
            "LINKROT_BROWSER_MEMORY_MB", settings.get("LINKROT_BROWSER_MEMORY_MB", 448), minimum=MIN_MEMORY_MB
        )
        chromium = find_chromium(settings.get("LINKROT_CHROMIUM"))
        return cls(
            pages=pages or default_pages(), memory_mb=memory, chromium=chromium, frames=controls_frames(chromium)
        )

    @property
    def js_heap_mb(self) -> int:
        return self.memory_mb // _JS_HEAP_SHARE


def default_pages() -> int:
    """LINKROT_RENDER_PAGES=0: two pages per CPU core, at most 8.

    One page renders while the other waits for the network (most pages that need a render
    build their links on load, and those that do not leave the page idle for 500 ms)."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


def controls_frames(chromium: str | None) -> bool:
    """Can linkrot give this browser its frames (``FRAME_CONTROL_FLAGS``)?  Only the headless shell
    (Debian's, or Playwright's own ``chromium_headless_shell``) has the command for it."""
    name = Path(chromium).name if chromium else ""
    return "headless-shell" in name or "headless_shell" in name


def find_chromium(configured: str | None) -> str | None:
    """The Chromium executable to launch (None: let Playwright use its own, if installed)."""
    if configured:
        path = shutil.which(configured) or configured
        if not Path(path).is_file():
            raise ConfigError(f"LINKROT_CHROMIUM: no executable at {configured!r}")
        return path
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return None


def launch_options(
    chromium: str | None,
    hostmap: HostMap,
    proxy_port: int | None = None,
    js_heap_mb: int | None = None,
    frames: bool = False,
) -> dict[str, Any]:
    """``PLAYWRIGHT_LAUNCH_OPTIONS`` for a headless system Chromium.

    With ``proxy_port`` every request goes through linkrot's checking proxy, loopback
    included (Chromium exempts it unless told ``<-loopback>``).  With ``js_heap_mb``
    the browser runs as one process whose pages may hold that much JS heap each.
    With ``frames`` it draws no frame of its own: ``pump_frames`` gives them.
    """
    args = list(CHROMIUM_FLAGS)
    if js_heap_mb:
        args += [*PROCESS_FLAGS, f"--js-flags=--max-old-space-size={js_heap_mb}"]
    if frames:
        args += FRAME_CONTROL_FLAGS
    if hostmap:
        args.append(f"--host-resolver-rules={hostmap.chromium_host_rules()}")
    if proxy_port:
        args += [f"--proxy-server=http://127.0.0.1:{proxy_port}", "--proxy-bypass-list=<-loopback>"]
    options: dict[str, Any] = {"headless": True, "args": args}
    if chromium:
        options["executable_path"] = chromium
    return options


RENDER_SLOT = "linkrot-render"
HANDLER = "linkrot.browser.SharedPlaywrightHandler"
RENDER_QUEUE = 2  # renders in the downloader per browser page; more wait in the spider (hold_render)


def render_queue(settings: Any) -> int:
    """Renders handed to the downloader at most: the others wait in the spider, not in its slots."""
    return RENDER_QUEUE * BrowserConfig.from_settings(settings).pages


def configure(settings: Any) -> dict[str, Any]:
    """The settings a spider that renders applies (``update_settings``), from the ``LINKROT_*`` ones.

    One download handler for http and https (one driver, one browser), Chromium's launch
    options, and a download slot of its own for renders, as wide as the browser: waiting for
    a browser page must not hold the slots that plain fetches need (measured: it slowed every
    check to the browser's pace).
    """
    config = BrowserConfig.from_settings(settings)
    # Chromium connects through linkrot's proxy, which checks each address after DNS (linkrot.proxy)
    proxy_port = reserve_port() if not settings.getbool("LINKROT_ALLOW_PRIVATE") else None
    slots = dict(settings.getdict("DOWNLOAD_SLOTS"))
    slots[RENDER_SLOT] = {"concurrency": config.pages, "delay": 0}
    extensions = dict(settings.getdict("EXTENSIONS"))
    # the browser's memory counts in MEMUSAGE_* (scrapy-playwright's extension adds Chromium's processes)
    extensions.update(
        {
            "scrapy.extensions.memusage.MemoryUsage": None,
            "scrapy_playwright.memusage.ScrapyPlaywrightMemoryUsageExtension": 0,
        }
    )
    return {
        # renders waiting for a browser page count in the downloader's active requests: without room
        # of their own they held back the plain fetches (measured: half the checks/s of a run)
        "CONCURRENT_REQUESTS": settings.getint("CONCURRENT_REQUESTS") + RENDER_QUEUE * config.pages,
        "DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER},
        "LINKROT_BROWSER_PROXY_PORT": proxy_port or 0,
        "PLAYWRIGHT_LAUNCH_OPTIONS": launch_options(
            config.chromium,
            HostMap.parse(settings.get("LINKROT_RESOLVE")),
            proxy_port,
            config.js_heap_mb,
            frames=config.frames,
        ),
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "DOWNLOAD_SLOTS": slots,
        "PLAYWRIGHT_MAX_CONTEXTS": 1,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": config.pages,
        "PLAYWRIGHT_ABORT_REQUEST": abort_request,
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": settings.getfloat("DOWNLOAD_TIMEOUT") * 1000,
        "EXTENSIONS": extensions,
    }


def request_meta(wait_seconds: float, hosts: list[str]) -> dict[str, Any]:
    """Meta keys of a render request: ``linkrot_render`` tells linkrot's handler to render the URL
    on a pooled browser page, and how long to wait for a link to one of ``hosts``."""
    return {
        "linkrot_render": {"wait": wait_seconds, "hosts": hosts},
        "dont_obey_robotstxt": True,  # the static fetch already asked robots.txt
        "download_slot": RENDER_SLOT,
    }


def abort_request(request: Any) -> bool:
    """``PLAYWRIGHT_ABORT_REQUEST``, for requests rendered through scrapy-playwright's own pages."""
    return should_abort(request.resource_type, request.url)


def should_abort(resource_type: str, url: str) -> bool:
    """Skip what cannot change the page's links, and IP literals that must not be reached;
    names are checked by the proxy, after DNS (``linkrot.proxy``).

    Documents (the page, its frames), scripts and what scripts fetch are loaded: any of them may
    add a link, except scripts and beacons of analytics and ad hosts.
    """
    resource_type = resource_type.lower()
    if resource_type in _ABORTED_TYPES:
        return True
    host = url_host(url)
    if host and resource_type != "document" and is_tracker(host):
        return True
    if not POLICY.enabled:
        return False
    return bool(host) and not POLICY.allows_host(host) and forbidden_reason(host) is not None


def is_tracker(host: str) -> bool:
    domain = registrable_domain(host)
    return domain in TRACKER_DOMAINS or host in TRACKER_DOMAINS


#: requests Chromium pauses for linkrot to decide (CDP Fetch.enable): the aborted types, and URLs
#: naming a tracker (``should_abort`` checks the host).  Every other request (the document, its
#: scripts, XHR) goes on without a round trip to Python, where a route for "**" paused them all
FETCH_PATTERNS = (
    *({"resourceType": kind} for kind in ("Stylesheet", "Image", "Font", "Media")),
    *({"urlPattern": f"*{domain}*"} for domain in sorted(TRACKER_DOMAINS)),
)


async def block_requests(page: Any) -> Any:
    """Abort what ``should_abort`` refuses on ``page``, for every document it will show.

    A CDP session of linkrot's own (Playwright's ``route`` would pause every request)."""
    session = await page.context.new_cdp_session(page)

    async def decide(event: dict) -> None:
        request = event["request"]
        try:
            if should_abort(event.get("resourceType", ""), request["url"]):
                await session.send(
                    "Fetch.failRequest", {"requestId": event["requestId"], "errorReason": "BlockedByClient"}
                )
            else:
                await session.send("Fetch.continueRequest", {"requestId": event["requestId"]})
        except Exception:  # the page navigated or closed meanwhile
            pass

    session.on("Fetch.requestPaused", lambda event: asyncio.ensure_future(decide(event)))
    await session.send("Fetch.enable", {"patterns": list(FETCH_PATTERNS)})
    return session


async def pump_frames(
    session: Any, lock: asyncio.Lock, stop: asyncio.Event, interval: float = FRAME_INTERVAL
) -> None:
    """Give a page a frame every ``interval`` seconds, computed but not drawn, until ``stop`` is set.

    ``HeadlessExperimental.enable`` must have been sent on ``session``.  Frames of the browser's pages
    are asked one at a time (``lock``), and a frame asked is never abandoned (no cancel, no timeout):
    the headless shell stops on a frame asked while another page's is under way (measured: SIGTRAP
    within a second with two pages).  A page stuck in a script holds its frame, and the others' with
    it, until linkrot deems the browser hung and closes it, which ends the frame."""
    while not stop.is_set():
        try:
            async with lock:
                await session.send("HeadlessExperimental.beginFrame", {"noDisplayUpdates": True})
        except Exception:  # the page is navigating or closed: the next frame will do
            pass
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


# resolves with the page's HTML once it links to one of the sites (host without "www." and port)
# we look for, with null after ``ms``: a MutationObserver is told of every link a script adds, where
# polling on each animation frame (Playwright's wait_for_function) cost the renderer a frame's work
# each time, and reading the DOM here saves a round trip
_WAIT_FOR_LINK = """([hosts, ms]) => new Promise(resolve => {
  const has = () => Array.from(document.links).some(a => hosts.includes(a.hostname.replace(/^www\\./, '')));
  const html = () => document.documentElement ? document.documentElement.outerHTML : '';
  if (has()) return resolve(html());
  const observer = new MutationObserver(() => { if (has()) { observer.disconnect(); resolve(html()); } });
  observer.observe(document, {childList: true, subtree: true, attributes: true, attributeFilter: ['href']});
  setTimeout(() => { observer.disconnect(); resolve(null); }, ms);
})"""


async def settle(page: Any, wait_seconds: float, hosts: list[str] | None = None) -> str | None:
    """After ``load``, wait until the network is idle or a link to one of ``hosts`` appears.

    Whichever comes first, and never more than ``wait_seconds``: most pages that
    build links do it on load, so the link shows up before the network has been
    quiet for the 500 ms "idle" needs (measured: it sets the pace of a run).
    Returns the page's HTML when the link appeared (None: read it yourself).
    """
    timeout = wait_seconds * 1000
    idle = asyncio.ensure_future(page.wait_for_load_state("networkidle", timeout=timeout))
    waits = [idle]
    if hosts:
        waits.append(asyncio.ensure_future(page.evaluate(_WAIT_FOR_LINK, [hosts, timeout])))
    # the page's own scripts could stall the observer (it runs in the page's world): Python bounds it too
    done, pending = await asyncio.wait(waits, timeout=wait_seconds + 1, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    # a timeout or a closed page only means "read what the page has built by now"
    await asyncio.gather(*done, *pending, return_exceptions=True)
    found = [t.result() for t in done if t is not idle and not t.cancelled() and t.exception() is None]
    return found[0] if found and isinstance(found[0], str) else None


@dataclass(frozen=True)
class Rendered:
    url: str
    status: int
    headers: dict[str, str]
    html: str


async def render(page: Any, url: str, *, timeout: float, wait: float, hosts: list[str]) -> Rendered:
    """Load ``url`` in ``page``, let it settle, and read its DOM (when no link appeared, from
    Playwright's isolated world, which the page's scripts cannot tamper with)."""
    response = await page.goto(url, wait_until="load", timeout=timeout * 1000)
    html = await settle(page, wait, hosts)
    for attempt in range(2):
        if html is not None:
            break
        try:
            html = await asyncio.wait_for(page.content(), READ_TIMEOUT)
        except asyncio.TimeoutError:
            raise
        except Exception as exc:  # a script navigated the page while it was read: read the new one
            if attempt or "navigating" not in str(exc):
                raise
            await page.wait_for_load_state("load", timeout=READ_TIMEOUT * 1000)
    headers = response.headers if response is not None else {}  # as received: no extra round trip
    return Rendered(page.url, response.status if response is not None else 200, headers, html or "")
