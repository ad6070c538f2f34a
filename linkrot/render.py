"""Rendering with system Chromium through scrapy-playwright, only for pages that need it.

Playwright cannot download its own browsers here (nor on many users' servers),
so linkrot launches Debian's Chromium (``LINKROT_CHROMIUM`` to choose another)
with flags that keep it from calling home, and maps ``LINKROT_RESOLVE`` hosts
with ``--host-resolver-rules``.  Images, fonts and media are never fetched: a
link check needs the DOM, not the pixels.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .guard import POLICY, forbidden_reason, url_host
from .resolver import HostMap

#: tried in this order when LINKROT_CHROMIUM is empty; the first skips Debian's wrapper script
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
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
    "--disable-features=IsolateOrigins,site-per-process,Translate,MediaRouter",
    "--renderer-process-limit=4",
    "--disable-extensions",
)
_ABORTED_TYPES = frozenset({"image", "font", "media"})


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


def launch_options(chromium: str | None, hostmap: HostMap, proxy_port: int | None = None) -> dict[str, Any]:
    """``PLAYWRIGHT_LAUNCH_OPTIONS`` for a headless system Chromium.

    With ``proxy_port`` every request goes through linkrot's checking proxy, loopback
    included (Chromium exempts it unless told ``<-loopback>``).
    """
    args = list(CHROMIUM_FLAGS)
    if hostmap:
        args.append(f"--host-resolver-rules={hostmap.chromium_host_rules()}")
    if proxy_port:
        args += [f"--proxy-server=http://127.0.0.1:{proxy_port}", "--proxy-bypass-list=<-loopback>"]
    options: dict[str, Any] = {"headless": True, "args": args}
    if chromium:
        options["executable_path"] = chromium
    return options


def abort_request(request: Any) -> bool:
    """``PLAYWRIGHT_ABORT_REQUEST``: skip what cannot change the page's links, and IP literals that
    must not be reached; names are checked by the proxy, after DNS (``linkrot.proxy``)."""
    if request.resource_type in _ABORTED_TYPES:
        return True
    if not POLICY.enabled:
        return False
    host = url_host(request.url)
    return bool(host) and not POLICY.allows_host(host) and forbidden_reason(host) is not None


# true once the page links to one of the sites (host without "www." and port) we look for
_HAS_LINK = "hosts => Array.from(document.links).some(a => hosts.includes(a.hostname.replace(/^www\\./, '')))"


async def settle(page: Any, wait_seconds: float, hosts: list[str] | None = None) -> None:
    """After ``load``, wait until the network is idle or a link to one of ``hosts`` appears.

    Whichever comes first, and never more than ``wait_seconds``: most pages that
    build links do it on load, so the link shows up before the network has been
    quiet for the 500 ms "idle" needs (measured: it sets the pace of a run).
    """
    timeout = wait_seconds * 1000
    waits = [asyncio.ensure_future(page.wait_for_load_state("networkidle", timeout=timeout))]
    if hosts:
        waits.append(asyncio.ensure_future(page.wait_for_function(_HAS_LINK, arg=hosts, timeout=timeout)))
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    # a timeout or a closed page only means "read what the page has built by now"
    await asyncio.gather(*done, *pending, return_exceptions=True)


RENDER_SLOT = "linkrot-render"  # renders queue in a download slot of their own


def configure(settings: Any) -> None:
    """Install the browser for a backlinks run (``update_settings``): one shared handler, Debian's
    Chromium behind linkrot's address-checking proxy, renders in their own slot."""
    from .proxy import reserve_port

    if str(settings.get("LINKROT_RENDER") or "auto").lower() == "never":
        return
    handler = "linkrot.browser.SharedPlaywrightHandler"  # one driver and browser for http and https
    settings.set("DOWNLOAD_HANDLERS", {"http": handler, "https": handler}, priority="spider")
    # Chromium connects through linkrot's proxy, which checks each address after DNS (linkrot.proxy)
    proxy_port = reserve_port() if not settings.getbool("LINKROT_ALLOW_PRIVATE") else None
    settings.set("LINKROT_BROWSER_PROXY_PORT", proxy_port or 0, priority="spider")
    options = launch_options(
        find_chromium(settings.get("LINKROT_CHROMIUM")),
        HostMap.parse(settings.get("LINKROT_RESOLVE")),
        proxy_port,
    )
    settings.set("PLAYWRIGHT_LAUNCH_OPTIONS", options, priority="spider")
    settings.set("PLAYWRIGHT_BROWSER_TYPE", "chromium", priority="spider")
    # renders queue in a slot of their own, as wide as the browser: waiting for a browser page
    # must not hold the slots that plain fetches need (measured: it slowed every check to the
    # browser's pace)
    pages = settings.getint("LINKROT_RENDER_PAGES")
    slots = dict(settings.getdict("DOWNLOAD_SLOTS"))
    slots[RENDER_SLOT] = {"concurrency": pages, "delay": 0}
    settings.set("DOWNLOAD_SLOTS", slots, priority="spider")
    settings.set("PLAYWRIGHT_MAX_CONTEXTS", 1, priority="spider")
    settings.set("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT", pages, priority="spider")
    settings.set("PLAYWRIGHT_ABORT_REQUEST", abort_request, priority="spider")
    timeout = settings.getfloat("DOWNLOAD_TIMEOUT") * 1000
    settings.set("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT", timeout, priority="spider")
    # the browser's memory counts in MEMUSAGE_* (scrapy-playwright's extension adds Chromium's processes)
    extensions = dict(settings.getdict("EXTENSIONS"))
    extensions["scrapy.extensions.memusage.MemoryUsage"] = None
    extensions["scrapy_playwright.memusage.ScrapyPlaywrightMemoryUsageExtension"] = 0
    settings.set("EXTENSIONS", extensions, priority="spider")


def render_meta(wait_seconds: float, sites: list[str]) -> dict[str, Any]:
    """The meta keys that send a request through Chromium and settle the page before reading it."""
    from scrapy_playwright.page import PageMethod

    return {
        "playwright": True,
        "playwright_page_goto_kwargs": {"wait_until": "load"},
        "playwright_page_methods": [PageMethod(settle, wait_seconds, sites)],
        "dont_obey_robotstxt": True,  # the static fetch already asked robots.txt
        "download_slot": RENDER_SLOT,
    }
