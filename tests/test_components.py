"""The middle layer: the run component, the pipeline and the middlewares, built with ``get_crawler``.

Fast (no subprocess, no reactor): each component is built from a crawler with
linkrot's settings, driven by calling its hooks, and judged by what a user
sees - the ``runs`` row, the rows written, the stats, the errors.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sqlite3
import subprocess
import sys
import threading

import pytest
import sqlite_utils
from linkrot.pipelines.store import StorePipeline
from linkrot.spiders.backlinks import BacklinksSpider
from linkrot.spiders.site import SiteSpider
from scrapy import Request, signals
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from linkrot import settings as linkrot_settings
from linkrot.errors import ConfigError, NotALinkrotDatabaseError, NothingToCheckError, RunLockedError
from linkrot.items import SitemapEntry, TrapEntry, UrlResult
from linkrot.middlewares import RetryAfterMiddleware
from linkrot.process import LongLived, StatsCollector
from linkrot.run import Run

SITE = "http://www.example.test/"


def crawler_for(spidercls, db, /, **args):
    settings = {k: getattr(linkrot_settings, k) for k in dir(linkrot_settings) if k.isupper()}
    settings.update({"LINKROT_DB": str(db), "LINKROT_RENDER": "never", **args.pop("settings", {})})
    crawler = get_crawler(spidercls, settings)
    crawler.spider = spidercls.from_crawler(crawler, **args)
    return crawler


def runs(db):
    return list(sqlite_utils.Database(db).query("SELECT * FROM runs ORDER BY id"))


def test_a_run_opens_its_row_holds_the_lock_and_closes_with_its_stats(tmp_path):
    db = tmp_path / "x.db"
    crawler = crawler_for(SiteSpider, db, url=SITE)
    run = Run.from_crawler(crawler)
    assert runs(db)[0]["state"] == "running" and runs(db)[0]["site"] == SITE
    with pytest.raises(RunLockedError, match="another site run"):
        Run.from_crawler(crawler_for(SiteSpider, db, url=SITE))
    crawler.stats.set_value("linkrot/pages", 3)
    run.spider_closed(crawler.spider, "finished")
    row = runs(db)[0]
    assert row["state"] == "finished" and row["finish_reason"] == "finished"
    stats = json.loads(row["stats"])
    assert stats["linkrot/pages"] == 3 and stats["linkrot/view/broken_links"] == 0
    Run.from_crawler(crawler_for(SiteSpider, db, url=SITE)).spider_closed(None, "finished")  # lock released


def test_an_interrupted_run_is_resumed_only_with_the_same_arguments(tmp_path):
    db = tmp_path / "x.db"
    first = Run.from_crawler(crawler_for(SiteSpider, db, url=SITE, max_depth="3"))
    first.spider_closed(None, "shutdown")  # Ctrl-C
    same = Run.from_crawler(crawler_for(SiteSpider, db, url=SITE, max_depth="3"))
    assert same.resumed and same.id == first.id
    same.spider_closed(None, "shutdown")
    other = Run.from_crawler(crawler_for(SiteSpider, db, url=SITE, max_depth="4"))
    assert not other.resumed and other.id != first.id
    other.spider_closed(None, "finished")
    fresh = Run.from_crawler(crawler_for(SiteSpider, db, url=SITE, max_depth="4", resume="0"))
    assert not fresh.resumed
    fresh.spider_closed(None, "finished")


def test_a_typo_in_an_alert_setting_stops_the_run_before_it_starts(tmp_path):
    export = tmp_path / "e.csv"
    export.write_text("source_url,target_url\nhttp://a.test/,http://www.ours.test/\n")
    crawler = crawler_for(
        BacklinksSpider, tmp_path / "x.db", file=str(export), settings={"LINKROT_ALERT_CHANGES": "lsot"}
    )
    with pytest.raises(ConfigError, match="LINKROT_ALERT_CHANGES"):
        Run.from_crawler(crawler)
    assert not (tmp_path / "x.db").exists() or runs(tmp_path / "x.db") == []
    # and the lock is free again
    crawler = crawler_for(BacklinksSpider, tmp_path / "x.db", file=str(export))
    Run.from_crawler(crawler).spider_closed(None, "shutdown")


def test_a_backlinks_run_imports_first_and_refuses_to_check_nothing(tmp_path):
    db = tmp_path / "x.db"
    with pytest.raises(NothingToCheckError, match="no backlinks to check"):
        Run.from_crawler(crawler_for(BacklinksSpider, db))
    export = tmp_path / "e.csv"
    export.write_text("source_url,target_url\nhttp://a.test/p,http://www.ours.test/\n")
    crawler = crawler_for(BacklinksSpider, db, file=str(export))
    run = Run.from_crawler(crawler)
    assert run.import_ids and crawler.stats.get_value("linkrot/import/rows") == 1
    run.spider_closed(None, "shutdown")


def test_the_pipeline_writes_in_batches_and_traps_at_once(tmp_path):
    db = tmp_path / "x.db"
    crawler = crawler_for(
        SiteSpider, db, url=SITE, settings={"LINKROT_BATCH_SIZE": 3, "LINKROT_FLUSH_INTERVAL": 0}
    )
    run = Run.from_crawler(crawler)
    crawler.get_extension = lambda cls: run
    pipeline = StorePipeline.from_crawler(crawler)
    pipeline.open_spider()
    rows = sqlite_utils.Database(db)
    pipeline.process_item(
        TrapEntry(f"{SITE}cal?…", "more than 2 query strings of one path", f"{SITE}cal?m=3")
    )
    assert rows["traps"].count == 1
    pipeline.process_item(UrlResult(url=SITE, outcome="ok", is_internal=True, http_status=200))
    pipeline.process_item(SitemapEntry(f"{SITE}orphan", f"{SITE}sitemap.xml"))
    assert rows["urls"].count == 0  # buffered: two items, a batch is three
    pipeline.process_item(
        UrlResult(url=f"{SITE}gone", outcome="not_found", is_internal=True, http_status=404)
    )
    assert rows["urls"].count == 2 and rows["sitemap_urls"].count == 1
    pipeline.process_item(UrlResult(url=f"{SITE}late", outcome="ok", is_internal=True, http_status=200))
    pipeline.close_spider()  # the last, partial batch is not lost
    assert rows["urls"].count == 3
    run.spider_closed(crawler.spider, "finished")


def test_a_batch_that_cannot_be_written_stops_the_crawl_with_a_reason(tmp_path, caplog):
    db = tmp_path / "x.db"
    crawler = crawler_for(
        SiteSpider, db, url=SITE, settings={"LINKROT_BATCH_SIZE": 1, "LINKROT_FLUSH_INTERVAL": 0}
    )
    run = Run.from_crawler(crawler)
    crawler.get_extension = lambda cls: run
    closed: list[str] = []

    class Engine:
        running = True

        def close_spider_async(self, reason: str) -> None:  # the real one is a coroutine
            closed.append(reason)

    crawler.engine = Engine()
    pipeline = StorePipeline.from_crawler(crawler)
    pipeline.open_spider()

    def full_disk(batch):
        raise sqlite3.OperationalError("database or disk is full")

    pipeline.write = full_disk
    pipeline.process_item(UrlResult(url=SITE, outcome="ok", is_internal=True, http_status=200))
    pipeline.process_item(UrlResult(url=f"{SITE}a", outcome="ok", is_internal=True, http_status=200))
    assert closed == ["linkrot_write_failed"]  # once, however many batches failed
    assert "could not be written" in caplog.text and "disk is full" in caplog.text
    crawler.engine = None
    pipeline.close_spider()
    run.spider_closed(crawler.spider, "linkrot_write_failed")
    assert runs(db)[0]["state"] == "interrupted"  # the next run with the same arguments resumes it


def test_a_big_crawl_writes_on_a_thread_and_a_batch_that_fails_there_still_stops_it(tmp_path, caplog):
    db = tmp_path / "x.db"
    settings = {"LINKROT_BATCH_SIZE": 1, "LINKROT_FLUSH_INTERVAL": 0, "LINKROT_DEFER_LINK_INDEX": 2}
    crawler = crawler_for(SiteSpider, db, url=SITE, settings=settings)
    run = Run.from_crawler(crawler)
    crawler.get_extension = lambda cls: run
    closed: list[str] = []

    class Engine:
        running = True

        def close_spider_async(self, reason: str) -> None:
            closed.append(reason)

    crawler.engine = Engine()
    pipeline = StorePipeline.from_crawler(crawler)
    pipeline.open_spider()
    rows = sqlite_utils.Database(db)
    for path in ("", "a", "b"):  # two on the crawl's thread; past LINKROT_DEFER_LINK_INDEX, on the writer's
        pipeline.process_item(UrlResult(url=f"{SITE}{path}", outcome="ok", is_internal=True, http_status=200))
    assert crawler.stats.get_value("linkrot/writer_thread/from") == 2
    pipeline.process_item(TrapEntry(f"{SITE}cal?…", "more than 2 query strings of one path", f"{SITE}cal?m=3"))
    run.flush_items()  # what a spider calls before it reads the database back: everything is written
    assert rows["urls"].count == 3 and rows["traps"].count == 1

    def full_disk(batch, store=None):
        raise sqlite3.OperationalError("database or disk is full")

    pipeline.write = full_disk
    pipeline.process_item(UrlResult(url=f"{SITE}c", outcome="ok", is_internal=True, http_status=200))
    pipeline.process_item(UrlResult(url=f"{SITE}d", outcome="ok", is_internal=True, http_status=200))
    run.flush_items()
    assert closed == ["linkrot_write_failed"] and "disk is full" in caplog.text
    crawler.engine = None
    pipeline.close_spider()
    run.spider_closed(crawler.spider, "linkrot_write_failed")
    assert runs(db)[0]["state"] == "interrupted" and rows["urls"].count == 3


def test_a_crawl_alone_never_imports_redis():
    # redis and scrapy-redis cost every run's start ~65 ms: only a shared crawl (LINKROT_REDIS_URL) loads them
    code = """
import sys
from scrapy.settings import Settings
from linkrot.spiders.backlinks import BacklinksSpider
from linkrot.spiders.site import SiteSpider
for spider in (SiteSpider, BacklinksSpider):
    settings = Settings()
    settings.setmodule("linkrot.settings", priority="project")
    spider.update_settings(settings)
    assert settings["SCHEDULER"] == "linkrot.scratch.DiskScheduler", settings["SCHEDULER"]
print(sorted(m for m in sys.modules if m.partition(".")[0] in ("redis", "scrapy_redis") or m == "linkrot.scale"))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("on", [False, True])
def test_components_turned_off_are_never_imported_and_come_back_when_turned_on(on):
    # Scrapy imports each default component before it can say it is off: aiohttp for the remote
    # control, tldextract and requests for cookies, 0.16 s of every run's start (linkrot.process.SkipDisabled)
    code = f"""
import json, sys
from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
from scrapy.utils.test import get_crawler
from linkrot import settings as linkrot_settings
from linkrot.spiders.backlinks import BacklinksSpider
settings = {{k: getattr(linkrot_settings, k) for k in dir(linkrot_settings) if k.isupper()}}
settings.update(REMOTE_CONTROL_ENABLED={on}, COOKIES_ENABLED={on})
crawler = get_crawler(BacklinksSpider, settings)
crawler._apply_settings()  # builds the extensions
built = [*crawler.extensions.middlewares, *DownloaderMiddlewareManager.from_crawler(crawler).middlewares]
print(json.dumps({{"modules": sorted(m for m in ("aiohttp", "tldextract") if m in sys.modules),
                  "components": [type(c).__name__ for c in built if type(c).__name__ in ("RemoteControl", "CookiesMiddleware")]}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    if on:
        assert seen["modules"] == ["aiohttp", "tldextract"]
        assert seen["components"] == ["RemoteControl", "CookiesMiddleware"]
    else:
        assert seen == {"modules": [], "components": []}


def test_retry_after_waits_what_the_server_says_then_gives_up(tmp_path):
    crawler = crawler_for(
        SiteSpider,
        tmp_path / "x.db",
        url=SITE,
        settings={"LINKROT_RETRY_AFTER_TIMES": 1, "LINKROT_RETRY_AFTER_MAX": 5},
    )
    middleware = RetryAfterMiddleware.from_crawler(crawler)
    request = Request(SITE)
    busy = Response(SITE, status=429, headers={"Retry-After": "0"}, request=request)
    retry = asyncio.run(middleware.process_response(request, busy))
    assert isinstance(retry, Request) and retry.meta["linkrot_retry_after"] == 1
    assert asyncio.run(middleware.process_response(retry, busy)) is busy  # asked once: gives up
    too_long = Response(SITE, status=429, headers={"Retry-After": "3600"}, request=request)
    assert asyncio.run(middleware.process_response(request, too_long)) is too_long
    assert crawler.stats.get_value("linkrot/retry_after/gave_up") == 2


def test_a_bad_retry_after_setting_is_a_clear_error(tmp_path):
    crawler = crawler_for(
        SiteSpider, tmp_path / "x.db", url=SITE, settings={"LINKROT_RETRY_AFTER_MAX": "soon"}
    )
    with pytest.raises(ConfigError, match="LINKROT_RETRY_AFTER_MAX"):
        RetryAfterMiddleware.from_crawler(crawler)


def test_a_run_never_writes_into_another_programs_database(tmp_path):
    other = tmp_path / "crm.db"
    sqlite_utils.Database(other)["customers"].insert({"name": "Ada"})
    with pytest.raises(NotALinkrotDatabaseError, match="crm.db is not a linkrot database"):
        Run.from_crawler(crawler_for(SiteSpider, other, url=SITE))
    assert sqlite_utils.Database(other).table_names() == ["customers"]
    (tmp_path / "notes.db").write_text("not sqlite at all " * 100)
    with pytest.raises(NotALinkrotDatabaseError):
        Run.from_crawler(crawler_for(SiteSpider, tmp_path / "notes.db", url=SITE))


def test_pending_requests_survive_the_disk_queue(tmp_path):
    from linkrot.scratch import PlainPickleFifoDiskQueue

    crawler = crawler_for(SiteSpider, tmp_path / "x.db", url=SITE)
    spider = crawler.spider
    queue = PlainPickleFifoDiskQueue.from_crawler(crawler, str(tmp_path / "q"))
    plain = spider.fetch(
        SITE + "a", meta={"linkrot_kind": "page", "linkrot_depth": 2}, method="HEAD", priority=-20
    )
    posted = Request(SITE + "form", method="POST", body=b"x=1", callback=spider.on_response)  # Scrapy's way
    queue.push(plain)
    queue.push(posted)
    back = queue.pop()
    assert (back.url, back.method, back.priority, back.dont_filter) == (SITE + "a", "HEAD", -20, True)
    assert back.meta["linkrot_depth"] == 2 and back.meta["linkrot_origin"] == SITE + "a"
    assert back.callback == spider.on_response and back.errback == spider.on_error
    again = queue.pop()
    assert (again.method, again.body, again.callback) == ("POST", b"x=1", spider.on_response)
    assert queue.pop() is None
    queue.close()


def test_the_disk_queue_keeps_order_across_its_batches_and_bounds_what_waits_in_memory(tmp_path, monkeypatch):
    from linkrot.scratch import PlainPickleFifoDiskQueue

    crawler = crawler_for(SiteSpider, tmp_path / "x.db", url=SITE)
    spider = crawler.spider
    queue = PlainPickleFifoDiskQueue.from_crawler(crawler, str(tmp_path / "q"))
    urls = [f"{SITE}p{i}" for i in range(1000)]
    out = []
    for i, url in enumerate(urls):  # pushes and pops interleaved, over several batches
        queue.push(spider.fetch(url, meta={"linkrot_kind": "page"}))
        if i % 3 == 0:
            out.append(queue.pop().url)
    assert len(queue) == 1000 - len(out)
    while (request := queue.pop()) is not None:
        out.append(request.url)
    assert out == urls and len(queue) == 0  # first in, first out, none lost, none twice
    with pytest.raises(ValueError):  # as Scrapy's queues: the scheduler keeps such a request in memory
        queue.push(spider.fetch(SITE + "x", meta={"linkrot_kind": "page", "lock": threading.Lock()}))
    queue.close()
    # many queues (a crawl's download slots) never hold more than the budget in memory together
    monkeypatch.setattr(PlainPickleFifoDiskQueue, "BUFFERED_BYTES", 2000)
    queues = [PlainPickleFifoDiskQueue.from_crawler(crawler, str(tmp_path / f"s{k}")) for k in range(50)]
    for k, q in enumerate(queues):
        for i in range(20):
            q.push(spider.fetch(f"http://h{k}.test/{i}", meta={"linkrot_kind": "resource"}))
            assert PlainPickleFifoDiskQueue._buffered <= 2000 + 300  # the budget and one request
    assert [q.pop().url for q in queues[:2]] == ["http://h0.test/0", "http://h1.test/0"]
    for q in queues:
        q.close()
    assert PlainPickleFifoDiskQueue._buffered == 0


def test_the_objects_of_a_running_crawl_skip_garbage_collection_and_go_back_to_it_when_it_ends(tmp_path):
    crawler = crawler_for(SiteSpider, tmp_path / "x.db", url=SITE)
    assert isinstance(crawler.stats, StatsCollector)  # linkrot's settings name it
    crawler.stats.inc_value("linkrot/pages", spider=crawler.spider)  # the deprecated argument still works
    assert crawler.stats.get_value("linkrot/pages") == 1
    LongLived.from_crawler(crawler)
    crawler.signals.send_catch_log(signals.engine_started)
    frozen = gc.get_freeze_count()
    crawler.signals.send_catch_log(signals.engine_stopped)
    # a process that runs crawl after crawl (a test suite, a Scrapyd runner) keeps none of them
    assert frozen > 10_000 and gc.get_freeze_count() == 0
