"""The site's own "not found" page, learnt before the crawl: what soft-404 detection compares with.

A part of :class:`spiders.site.SiteSpider`, kept apart so each file reads in one sitting.
"""

from __future__ import annotations

import logging

from scrapy.http import HtmlResponse, Response

from linkrot.extract import main_text, parse_html
from linkrot.soft404 import NotFoundTemplate

logger = logging.getLogger(__name__)


class NotFoundProbeMixin:
    """Needs ``fetch_now``, ``config`` and ``crawler`` from the spider."""

    async def probe_not_found(self, url: str, reference_url: str) -> NotFoundTemplate | None:
        """Learn what the site answers for a URL that cannot exist, and what its pages all say.

        The start page is the reference: what the 404 page's main content shares
        with it is the site's boilerplate, not what makes the 404 page one
        (linkrot.soft404).  Both are fetched once per crawl, outside the schedule.
        """
        try:
            response = await self.fetch_now(url, {"linkrot_kind": "probe"})
        except Exception as exc:  # noqa: BLE001 - any failure only means "no template"
            logger.warning("linkrot: probe of %s failed (%s); soft-404 detection uses phrases only", url, exc)
            return None
        title, text = self.probe_text(response)
        reference = None
        try:
            answer = await self.fetch_now(reference_url, {"linkrot_kind": "probe"})
        except Exception as exc:  # noqa: BLE001 - without a reference, nothing is left out
            logger.info("linkrot: the start page could not be read for the soft-404 reference (%s)", exc)
        else:
            if 200 <= answer.status < 300:
                reference = self.probe_text(answer)[1]
        template = NotFoundTemplate.from_page(
            response.status,
            response.url,
            title,
            text,
            len(response.body),
            reference=reference,
            threshold=self.config.soft404_threshold,
        )
        stats = self.crawler.stats
        stats.set_value("linkrot/probe/status", response.status)
        stats.set_value("linkrot/probe/words", template.words)
        logger.info(
            "linkrot: a missing page answers %s at %s (%d words of main content, %d%% of it shared with %s)",
            response.status,
            response.url,
            template.words,
            template.shared_share * 100,
            reference_url if reference else "no reference page",
        )
        return template

    @staticmethod
    def probe_text(response: Response) -> tuple[str | None, str]:
        """The title and main text of a probed page (none for an answer that is not HTML)."""
        if not isinstance(response, HtmlResponse):
            return None, ""
        page = parse_html(response.body, response.encoding)
        return page.title, main_text(page)
