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
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from .afterrun import after_run
from .auth import redact
from .backlinks_import import import_files
from .config import RunConfig
from .errors import NothingToCheckError
from .lock import RunLock
from .scratch import Scratch
from .store import Store, check_database
from .summary import describe_limits

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSpec:
    """What a spider tells the run component about the run it wants."""

    site: str | None  # the site the run is about (None: every site of the database)
    args: dict[str, Any]  # the spider arguments: a run is resumed only with the same ones
    resume: bool = True  # resume the unfinished run with the same arguments (LINKROT_RESUME, -a resume=)
    views: tuple[str, ...] = ()  # contract views whose row counts go into the stats
    # backlink exports to import first (None: the run checks no backlinks)
    imports: tuple[str, ...] | None = None
    history: bool = False  # backlink history, archive lookups and alerts after the run
    progress: str = "site"  # the progress line to log (linkrot.progress.LINES)

    def __post_init__(self) -> None:
        # the run row (and a shared crawl's key) keep the arguments, never a password or a cookie
        object.__setattr__(self, "args", redact(self.args))


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
    scratch: Scratch | None = None  # what a big crawl keeps on disk (linkrot.scratch)
    scale: Any = None  # linkrot.scale.Shared when the crawl is shared by several workers through Redis
    limits: Callable[[], list[str]] = list  # the limits that refused pages (the spider's frontier)
    flush_items: Callable[[], None] = lambda: None  # the pipeline's flush

    @property
    def seeds(self) -> bool:
        """This process seeds the crawl (a run of its own, or the worker that created a shared run)."""
        return self.scale is None or self.scale.created

    @classmethod
    def from_crawler(cls, crawler: Any) -> Run:
        spider = crawler.spider
        spec: RunSpec | None = getattr(spider, "run_spec", None)
        if spec is None:
            raise NotConfigured("the spider declares no run_spec")
        config = RunConfig.from_settings(crawler.settings, history=spec.history)
        check_database(config.db)  # never add linkrot's tables to another program's database
        shared = None
        if config.scale.redis_url:
            from .scale import Shared, crawl_key  # redis and scrapy-redis: the `scale` extra

            shared = Shared(crawler, config.scale, crawl_key(spider.name, spec.site, spec.args))
        lock = RunLock(config.db, spider.name).acquire(shared=shared is not None)
        run = None
        try:
            run = cls(crawler, spec, config, Store(config.db), lock, scale=shared)
            run.scratch = Scratch(config.db, spider.name)
            run.open()
        except BaseException:
            if run is not None:
                run.store.close()
                if run.scratch is not None:
                    run.scratch.remove()
            lock.release()
            raise
        crawler.signals.connect(run.spider_closed, signals.spider_closed)
        if shared is not None:
            crawler.signals.connect(shared.on_idle, signals.spider_idle)
        return run

    def open(self) -> None:
        if self.scale is None:
            self.id = self._start_or_resume()
        else:  # the first worker creates the run (and imports); the others join it
            self.id = self.scale.join(
                self._start_or_resume, self._joinable, self.store.run_token, self.store.share_run
            )
        stats = self.crawler.stats
        stats.set_value("linkrot/run_id", self.id)
        if self.writes:
            stats.set_value("linkrot/db", str(self.store.path))
            logger.info("linkrot: run %d writing to %s", self.id, self.store.path)

    @property
    def writes(self) -> bool:
        """This process writes to the run's database (False: a worker of a shared crawl on another machine)."""
        return self.scale is None or self.scale.local

    def _joinable(self, run_id: int) -> bool:
        state = self.store.run_state(run_id)
        if state == "interrupted":  # every worker was stopped; new ones carry on
            self.store.resume_run(run_id)
        return state in ("running", "interrupted")

    def _start_or_resume(self) -> int:
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
            self.index_links()  # what is left to crawl is read from the links, by target
            self.store.resume_run(resumable)
            run_id, self.resumed = resumable, True
            logger.info(
                "linkrot: resuming run %d, which did not finish; what it stored is not fetched again", run_id
            )
        else:
            run_id = self.store.start_run(name, self.spec.site, self.spec.args)
        if self.import_ids:
            self.store.attach_imports(run_id, self.import_ids)
        return run_id

    def index_links(self) -> None:
        """Build the index of links by target, if this run or an earlier one deferred it (a big crawl)."""
        seconds = self.store.ensure_link_index()
        if seconds is not None:
            logger.info("linkrot: links indexed by target in %.1f s", seconds)
            self.crawler.stats.set_value("linkrot/link_index/seconds", round(seconds, 1))

    def spider_closed(self, spider: Any, reason: str) -> None:
        stats = self.crawler.stats
        try:
            met = self.limits()  # the limits this worker met
            if self.writes:
                self.store.record_limits(self.id, met)
            elif met:  # to the writers, as a batch pipelines.store writes
                self.scale.push_results(pickle.dumps({"limits": met}), [])
            if self.scale is not None and not self.scale.leave(reason == "finished"):
                logger.info("linkrot: this worker is done; the last worker of run %d closes it", self.id)
                return
            self.index_links()
            for view in self.spec.views:
                stats.set_value(f"linkrot/view/{view}", self.store.count(view, self.id))
            if reason == "finished":
                # once per run, when it is whole (an interrupted run is resumed first)
                after_run(self.store, self.id, self.config, stats, self.spec.site, history=self.spec.history)
            self.store.finish_run(self.id, reason, stats.get_stats())
            if self.scale is not None and reason == "finished":
                self.scale.clear()  # an interrupted shared crawl keeps its queue for the workers to come
            limits = self.store.run_limits(self.id)
            if limits:
                logger.warning(
                    "linkrot: run %d %s",
                    self.id,
                    describe_limits(limits["stopped_by"], limits["not_crawled"]),
                )
        finally:
            self.store.close()
            self.lock.release()
            if self.scratch is not None:
                self.scratch.remove()
            if self.scale is not None:
                self.scale.close()
