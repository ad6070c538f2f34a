"""A run of a spider, as one Scrapy component: lock, run row, imports, after-run steps.

Built ``from_crawler`` after the spider (Scrapy creates the spider first), so
everything a run needs is settled before the first request: the database
lock (no overlapping runs), the run row (a new one, or the unfinished run
with the same arguments, resumed), the backlink exports imported, the
settings of the after-run steps validated.  The spider says what it is
through :class:`RunSpec`; no component asks which spider it serves.

The pipeline writes through :attr:`Run.store` and every component reads
:attr:`Run.id`; ``crawler.get_extension(Run)`` finds it.  When the spider
closes (after the pipeline's last flush), the contract views are counted into
the stats, the after-run steps run once per whole run, and the run row is
closed with the crawl's stats.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from .afterrun import after_run
from .backlinks_import import import_files
from .config import RunConfig
from .errors import NothingToCheckError
from .lock import RunLock
from .store import Store, check_database

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSpec:
    """What a spider tells the run component about the run it wants."""

    site: str | None  # the site the run is about (None: every site of the database)
    args: dict[str, Any]  # the spider arguments: a run is resumed only with the same ones
    resume: bool = True  # resume the unfinished run with the same arguments (LINKROT_RESUME, -a resume=)
    views: tuple[str, ...] = ()  # contract views whose row counts go into the stats
    imports: tuple[str, ...] | None = (
        None  # backlink exports to import first (None: the run checks no backlinks)
    )
    history: bool = False  # backlink history, archive lookups and alerts after the run
    progress: str = "site"  # the progress line to log (linkrot.progress.LINES)


@dataclass
class Run:
    crawler: Any
    spec: RunSpec
    config: RunConfig
    store: Store
    lock: RunLock
    id: int = 0
    resumed: bool = False
    import_ids: list[int] = field(default_factory=list)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Run:
        spider = crawler.spider
        spec: RunSpec | None = getattr(spider, "run_spec", None)
        if spec is None:
            raise NotConfigured("the spider declares no run_spec")
        config = RunConfig.from_settings(crawler.settings, history=spec.history)
        check_database(config.db)  # never add linkrot's tables to another program's database
        lock = RunLock(config.db, spider.name).acquire()
        run = None
        try:
            run = cls(crawler, spec, config, Store(config.db), lock)
            run.open()
        except BaseException:
            if run is not None:
                run.store.close()
            lock.release()
            raise
        crawler.signals.connect(run.spider_closed, signals.spider_closed)
        return run

    def open(self) -> None:
        stats = self.crawler.stats
        if self.spec.imports is not None:
            # before the run row: a file linkrot cannot read stops here, with its name and why
            self.import_ids, counts = import_files(self.store, self.spec.imports, site=self.spec.site)
            for key, value in counts.items():
                stats.set_value(f"linkrot/import/{key}", value)
            if not self.store.backlink_count():
                raise NothingToCheckError("no backlinks to check: import an export with -a file=PATH")
        name = self.crawler.spider.name
        resumable = (
            self.store.resumable_run(name, self.spec.site, self.spec.args) if self.spec.resume else None
        )
        if resumable is not None:
            self.store.resume_run(resumable)
            self.id, self.resumed = resumable, True
            logger.info(
                "linkrot: resuming run %d, which did not finish; what it stored is not fetched again", self.id
            )
        else:
            self.id = self.store.start_run(name, self.spec.site, self.spec.args)
        if self.import_ids:
            self.store.attach_imports(self.id, self.import_ids)
        stats.set_value("linkrot/run_id", self.id)
        stats.set_value("linkrot/db", str(self.store.path))
        logger.info("linkrot: run %d writing to %s", self.id, self.store.path)

    def spider_closed(self, spider: Any, reason: str) -> None:
        stats = self.crawler.stats
        try:
            for view in self.spec.views:
                stats.set_value(f"linkrot/view/{view}", self.store.count(view, self.id))
            if reason == "finished":
                # once per run, when it is whole (an interrupted run is resumed first)
                after_run(self.store, self.id, self.config, stats, self.spec.site, history=self.spec.history)
            self.store.finish_run(self.id, reason, stats.get_stats())
        finally:
            self.store.close()
            self.lock.release()
