"""One Playwright driver and one Chromium for every scheme.

Scrapy builds a download handler per URL scheme, and scrapy-playwright starts a
Playwright driver (and later a browser) per handler: two of each for http and
https, about 130 MiB per idle driver (measured in bench/backlinks.py).  This
handler is built once per crawler and serves both schemes.
"""

from __future__ import annotations

from typing import Any

from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler


class SharedPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    _closed = False

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
