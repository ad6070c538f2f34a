"""One Playwright driver and one Chromium for every scheme.

Scrapy builds a download handler per URL scheme, and scrapy-playwright starts a
Playwright driver (and later a browser) per handler: two of each for http and
https, about 130 MiB per idle driver (measured in bench/backlinks.py).  This
handler is built once per crawler and serves both schemes.
"""

from __future__ import annotations

from typing import Any

from scrapy import signals
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from .proxy import GuardProxy
from .resolver import HostMap


class SharedPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    """Also runs the address-checking proxy Chromium connects through (``linkrot.proxy``)."""

    _closed = False
    proxy: GuardProxy | None = None

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
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

    async def close(self) -> None:
        if self._closed:  # Scrapy closes each scheme's handler: the same object twice
            return
        self._closed = True
        await super().close()
        if self.proxy is not None:
            await self.proxy.stop()
