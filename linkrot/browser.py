"""One Playwright driver and one Chromium for every scheme, started on the first render, in a memory budget.

Scrapy builds a download handler per URL scheme, and scrapy-playwright starts a
Playwright driver (and later a browser) per handler: two of each for http and
https, about 130 MiB per idle driver (measured in bench/backlinks.py).  This
handler is built once per crawler and serves both schemes.

scrapy-playwright opens and closes a browser page per request and starts its
driver when the crawl starts.  A render here (``linkrot_render`` in a request's
meta, see ``linkrot.render.request_meta``) takes a page from a pool instead,
and the driver starts when the first page needs a render: a run whose pages all
hold their links in HTML never pays for it.  The browser is closed and launched
again when its processes outgrow ``LINKROT_BROWSER_MEMORY_MB``, and when it
crashed or hung; renders caught in that are tried once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import psutil
from scrapy import signals
from scrapy.http import HtmlResponse, Request, Response
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from . import render as rd
from .errors import RenderCrashed
from .proxy import GuardProxy
from .resolver import HostMap

logger = logging.getLogger(__name__)

#: a page is closed and a fresh one opened after this many renders: what a page keeps of the
#: documents it showed (in Chromium, in Playwright's driver and client) is released with it
PAGE_RENDERS = 100
#: seconds between two readings of the browser's memory
MEMORY_CHECK_INTERVAL = 1.0
#: share of LINKROT_BROWSER_MEMORY_MB past which Chromium is asked to free its caches
PURGE_SHARE = 0.75
#: Node's young generation grows to 16 MiB per semi-space by default; the driver only relays
#: messages (measured: 15 MiB less resident, no more CPU)
DRIVER_NODE_OPTIONS = "--max-semi-space-size=1 --jitless"
#: event-loop turns Playwright's client waits after each message from its driver.  It waits until
#: asyncio's queue of ready callbacks is empty, up to 100 turns; in a crawl that queue is never empty,
#: so each message waited 100 turns of Scrapy's work, and a render took seconds while plain fetches ran
#: (measured on bench/backlinks.py: Chromium idle at 6 % CPU while Scrapy was busy, and a render's
#: navigation 2-9 s against 0.1 s alone).  One turn is what Playwright's client waited for years (one
#: ``asyncio.sleep(0)`` after each message); it waits two on an event loop whose queue it cannot see
#: (uvloop's).  Measured with a loop kept busy in 5-ms slices: 100 renders in 9.9 s with one turn,
#: 18.2 s with two, none within a minute with 100.
DISPATCH_TURNS = 1


class SharedPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    """Also runs the address-checking proxy Chromium connects through (``linkrot.proxy``)."""

    _closed = False
    proxy: GuardProxy | None = None

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.browser_config = rd.BrowserConfig.from_settings(crawler.settings)
        self.user_agent = crawler.settings.get("USER_AGENT")
        self.pool = PagePool(self)
        self._start_lock = asyncio.Lock()
        port = crawler.settings.getint("LINKROT_BROWSER_PROXY_PORT")
        if port:
            self.proxy = GuardProxy(
                port, HostMap.parse(crawler.settings.get("LINKROT_RESOLVE")), crawler.stats
            )
            crawler.signals.connect(self.proxy.start, signals.engine_started)

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedPlaywrightHandler:
        shared = getattr(crawler, "_linkrot_playwright_handler", None)
        if shared is None:
            shared = cls(crawler)
            crawler._linkrot_playwright_handler = shared
        return shared

    # scrapy-playwright launches its driver when the engine starts; linkrot on the first render
    async def _maybe_launch_in_thread(self) -> None:
        return None

    def _engine_started(self) -> None:
        return None

    async def start_driver(self) -> None:
        """Start Playwright's driver once (``_launch`` also starts any startup contexts)."""
        async with self._start_lock:
            if getattr(self, "browser_provider", None) is not None:
                return
            started = time.monotonic()
            bound_dispatch_turns()
            with _environ("NODE_OPTIONS", DRIVER_NODE_OPTIONS):
                await self._launch()
            self.stats.inc_value("linkrot/render/driver_started")
            logger.info("linkrot: Playwright's driver started in %.1f s", time.monotonic() - started)

    def driver_pid(self) -> int | None:
        """The node process of Playwright's driver; Chromium's processes are its descendants.

        Read where scrapy-playwright's memory extension reads it (private attributes)."""
        manager = getattr(getattr(self, "browser_provider", None), "playwright_context_manager", None)
        for path in ("_client", "_connection"):  # Playwright >= 1.5x keeps the transport on its client
            with contextlib.suppress(AttributeError):
                return getattr(manager, path)._transport._proc.pid
        return None

    async def download_request(self, request: Request, spider: Any = None) -> Response:
        if "linkrot_render" in request.meta:
            await self.start_driver()
            return await self.pool.render(request)
        if request.meta.get("playwright"):
            await self.start_driver()
        return await super().download_request(request)

    async def close(self) -> None:
        if self._closed:  # Scrapy closes each scheme's handler: the same object twice
            return
        self._closed = True
        await self.pool.close()
        await super().close()
        if self.proxy is not None:
            await self.proxy.stop()


class PagePool:
    """Browser pages reused from render to render, in one browser kept inside a memory budget."""

    def __init__(self, handler: SharedPlaywrightHandler) -> None:
        self.handler = handler
        self.stats = handler.stats
        self.config = handler.browser_config
        self.browser: Any = None
        self.context: Any = None
        self.idle: list[Any] = []
        self.uses: dict[Any, int] = {}
        self.sessions: dict[Any, Any] = {}  # page -> the CDP session that aborts its requests
        self.busy = 0
        self.quiet = asyncio.Event()  # set while no page is rendering
        self.quiet.set()
        self.retire = False  # the browser outgrew its budget or hung: close it once quiet
        self.lock = asyncio.Lock()  # launching, recycling and handing out pages
        self.slots = asyncio.Semaphore(self.config.pages)
        self.frame_lock = asyncio.Lock()  # one frame asked of the browser at a time (render.pump_frames)
        self.pumps: set[asyncio.Future] = set()  # frame pumps still running (a reference keeps each alive)
        self.checked_at = 0.0

    async def render(self, request: Request) -> Response:
        options = request.meta["linkrot_render"]
        timeout = self.handler.config.navigation_timeout_ms or 30_000
        for attempt in (1, 2):
            async with self.slots:
                page, browser = await self.acquire()
                healthy = False
                frames = self.frames(page)
                try:
                    result = await rd.render(
                        page, request.url, timeout=timeout / 1000, wait=options["wait"], hosts=options["hosts"]
                    )
                    healthy = True
                except Exception as exc:
                    if browser.is_connected() and await self.responsive(page):
                        raise  # the page failed (not found, timed out): the static reading stands
                    if browser.is_connected():  # hung: nothing else will render in this browser
                        logger.info("linkrot: the browser hung on %s; it is launched again", request.url)
                        self.stats.inc_value("linkrot/render/hung")
                        async with self.lock:
                            if self.browser is browser:
                                await self.close_browser()
                    if attempt == 2:
                        raise RenderCrashed(f"the browser went away twice while rendering: {exc}") from exc
                    self.stats.inc_value("linkrot/render/retried")
                    continue
                finally:
                    if frames is not None:
                        frames.set()  # a frame under way ends on its own (render.pump_frames)
                    await self.release(page, healthy)
            return HtmlResponse(
                url=result.url,
                status=result.status,
                headers=result.headers,
                body=result.html.encode("utf-8"),
                encoding="utf-8",
                request=request,
                flags=["playwright"],
            )
        raise AssertionError("unreachable")

    async def acquire(self) -> tuple[Any, Any]:
        while True:
            if self.retire and self.busy:
                await self.quiet.wait()
                continue
            async with self.lock:
                if self.retire and self.busy:
                    continue
                if self.retire:
                    await self.close_browser()
                if self.browser is None or not self.browser.is_connected():
                    await self.launch()
                page = self.idle.pop() if self.idle else await self.new_page()
                self.busy += 1
                self.quiet.clear()
                return page, self.browser

    def frames(self, page: Any) -> asyncio.Event | None:
        """Give ``page`` its frames while it renders, when the browser draws none of its own;
        set the event returned to stop them."""
        session = self.sessions.get(page)
        if not self.config.frames or session is None:
            return None
        stop = asyncio.Event()
        self.pumps.add(task := asyncio.ensure_future(rd.pump_frames(session, self.frame_lock, stop)))
        task.add_done_callback(self.pumps.discard)
        return stop

    async def release(self, page: Any, healthy: bool) -> None:
        self.busy -= 1
        if not self.busy:
            self.quiet.set()
        self.uses[page] = self.uses.get(page, 0) + 1
        if healthy and not self.retire and not page.is_closed() and self.uses[page] < PAGE_RENDERS:
            self.idle.append(page)
        else:
            self.uses.pop(page, None)
            self.sessions.pop(page, None)
            with contextlib.suppress(Exception):
                await page.close()
        self.check_memory()

    async def responsive(self, page: Any) -> bool:
        """Does the page still run scripts (a page stuck in a loop blocks the whole browser)?"""
        try:
            await asyncio.wait_for(page.evaluate("1"), 2.0)
        except Exception:
            return False
        return True

    async def launch(self) -> None:
        started = time.monotonic()
        self.browser = browser = await self.handler.browser_provider.launch_browser()
        browser.on("disconnected", lambda _: self.lost(browser))
        self.context = await browser.new_context(
            user_agent=self.handler.user_agent,
            service_workers="block",  # a worker would outlive the render and could answer for the network
        )
        self.stats.inc_value("linkrot/render/browser_launched")
        self.retire = False
        self.checked_at = time.monotonic()
        logger.info("linkrot: Chromium launched in %.1f s", time.monotonic() - started)

    async def new_page(self) -> Any:
        page = await self.context.new_page()
        self.sessions[page] = session = await rd.block_requests(page)
        if self.config.frames:
            await session.send("HeadlessExperimental.enable")
        self.stats.inc_value("linkrot/render/pages_opened")
        return page

    def lost(self, browser: Any) -> None:
        if browser is self.browser:  # not closed by linkrot: crashed
            logger.info("linkrot: Chromium exited; it is launched again for the next render")
            self.stats.inc_value("linkrot/render/browser_lost")
            self.forget()

    def forget(self) -> None:
        self.browser = self.context = None
        self.idle.clear()
        self.uses.clear()
        self.sessions.clear()

    async def close_browser(self) -> None:
        browser = self.browser
        self.forget()
        if browser is None:
            return
        try:
            await asyncio.wait_for(browser.close(), 5.0)
        except Exception:  # a renderer stuck in a script can keep Chromium from exiting: end it
            logger.info("linkrot: Chromium did not close; its processes are killed")
            for process in _descendants(self.handler.driver_pid()):
                with contextlib.suppress(psutil.Error):
                    process.kill()

    def check_memory(self) -> None:
        """Retire the browser once its processes hold more than LINKROT_BROWSER_MEMORY_MB."""
        now = time.monotonic()
        if now - self.checked_at < MEMORY_CHECK_INTERVAL or self.browser is None or self.retire:
            return
        self.checked_at = now
        rss = browser_rss(self.handler.driver_pid())
        mib = rss // 2**20
        self.stats.max_value("linkrot/render/browser_peak_mb", mib)
        if mib > self.config.memory_mb * PURGE_SHARE and mib <= self.config.memory_mb and self.sessions:
            # Chromium keeps painted tiles and caches of pages long gone while it has room: tell it
            # memory is short (as the OS would), which frees them, before relaunching it costs a start
            self.stats.inc_value("linkrot/render/memory_purged")
            session = next(iter(self.sessions.values()))
            asyncio.ensure_future(_quietly(session.send("Memory.simulatePressureNotification", {"level": "critical"})))
        if mib > self.config.memory_mb:
            logger.info(
                "linkrot: Chromium holds %d MiB, more than LINKROT_BROWSER_MEMORY_MB=%d: launching it again",
                mib,
                self.config.memory_mb,
            )
            self.stats.inc_value("linkrot/render/browser_recycled")
            self.retire = True

    async def close(self) -> None:
        async with self.lock:
            await self.close_browser()


def bound_dispatch_turns(turns: int | None = None) -> bool:
    """Let Playwright's client wait at most ``turns`` turns of the event loop after each message
    (``DISPATCH_TURNS``).  A private value of Playwright's: where it is gone, nothing is changed."""
    try:
        from playwright._impl.utils import tasks
    except ImportError:
        return False
    if not isinstance(getattr(tasks, "_MAX_TURNS", None), int):
        return False
    tasks._MAX_TURNS = min(tasks._MAX_TURNS, DISPATCH_TURNS if turns is None else turns)
    return True


def _descendants(pid: int | None) -> list[psutil.Process]:
    if pid is None:
        return []
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def browser_rss(driver_pid: int | None) -> int:
    """Resident memory of Chromium's processes (the driver's descendants), in bytes."""
    total = 0
    for process in _descendants(driver_pid):
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total


async def _quietly(call: Any) -> None:
    with contextlib.suppress(Exception):
        await call


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """Add ``value`` to an environment variable while a child process is started."""
    before = os.environ.get(name)
    os.environ[name] = f"{before} {value}" if before else value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
