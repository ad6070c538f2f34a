"""Quiet, safe logs: expected outcomes are one line each, never a traceback; no remote-control server."""

from __future__ import annotations

import logging

from conftest import check_backlinks

from linkrot.logs import ExpectedErrorsFilter

REFUSED = [
    "http://localhost:8/a",  # a name that resolves to loopback
    "http://127.0.0.1:9/b",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://10.1.2.3/x",
    "http://[::1]:8/y",
    "http://0.0.0.0/w",
    "http://192.168.1.1/router",
]


def test_refused_private_addresses_log_one_warning_each_and_no_traceback(tmp_path):
    export = tmp_path / "private.csv"
    export.write_text(
        "source_url,target_url\n" + "".join(f"{url},https://www.ours.test/\n" for url in REFUSED)
    )
    result = check_backlinks(tmp_path / "x.db", f"file={export}", LINKROT_RENDER="never", DOWNLOAD_TIMEOUT=5)
    warnings = [line for line in result.log.splitlines() if "] WARNING:" in line]
    assert len(warnings) == len(REFUSED), "\n".join(warnings)
    for url in REFUSED:
        assert sum(url in line and "not fetched" in line for line in warnings) == 1, url
    assert "Traceback" not in result.log
    assert " ERROR: " not in result.log and " CRITICAL: " not in result.log
    rows = result.rows("backlink_status")
    assert {row["status"] for row in rows} == {"blocked"} and len(rows) == len(REFUSED)
    assert all("LINKROT_ALLOW_PRIVATE" in row["reason"] for row in rows)


def test_no_crawl_opens_the_remote_control_server(tmp_path, demo_server):
    from conftest import crawl

    result = crawl(tmp_path / "x.db", f"{demo_server.origin}/", "max_pages=1")
    assert "RemoteControl" not in result.log  # Scrapy names the extension in its list of enabled ones
    assert "remote control" not in result.log.lower()


def test_an_expected_download_error_becomes_one_info_line():
    from twisted.internet.error import DNSLookupError

    def record(exc: Exception) -> logging.LogRecord:
        try:
            raise exc
        except Exception as caught:
            info = (type(caught), caught, caught.__traceback__)
        return logging.LogRecord(
            "scrapy.downloadermiddlewares.robotstxt", logging.ERROR, "", 0, "x", (), info
        )

    quiet = record(DNSLookupError("no such host"))
    assert ExpectedErrorsFilter().filter(quiet) and quiet.levelno == logging.INFO and quiet.exc_info is None
    bug = record(AttributeError("a bug in code"))
    assert ExpectedErrorsFilter().filter(bug) and bug.levelno == logging.ERROR and bug.exc_info is not None


def test_scrapy_makes_no_record_below_the_log_level_during_a_crawl_and_may_again_after():
    from scrapy import signals
    from scrapy.utils.test import get_crawler

    from linkrot.logs import QuietLogs

    scrapy_logger = logging.getLogger("scrapy")
    engine = logging.getLogger("scrapy.core.engine")  # "Crawled (200)": one DEBUG record per response
    before = scrapy_logger.level
    scrapy_logger.setLevel(logging.DEBUG)  # as Scrapy's logging configuration leaves it
    try:
        crawler = get_crawler(settings_dict={"LOG_LEVEL": "INFO"})
        quiet = QuietLogs.from_crawler(crawler)  # held, as the crawl's extension manager does
        assert engine.isEnabledFor(logging.DEBUG)  # a crawler built and never started changes nothing
        quiet.engine_started()
        assert not engine.isEnabledFor(logging.DEBUG) and engine.isEnabledFor(logging.INFO)
        crawler.signals.send_catch_log(signals.engine_stopped)
        assert engine.isEnabledFor(logging.DEBUG)
        verbose = QuietLogs.from_crawler(get_crawler(settings_dict={"LOG_LEVEL": "DEBUG"}))
        verbose.engine_started()
        assert engine.isEnabledFor(logging.DEBUG)
        verbose.engine_stopped()
        scrapy_logger.setLevel(logging.ERROR)  # a user's quieter setting is kept
        quiet.engine_started()
        assert scrapy_logger.level == logging.ERROR
        quiet.engine_stopped()
        assert scrapy_logger.level == logging.ERROR
    finally:
        scrapy_logger.setLevel(before)


def test_a_debug_crawl_still_logs_each_response(tmp_path, demo_server):
    from conftest import crawl

    result = crawl(tmp_path / "x.db", f"{demo_server.origin}/", "max_pages=1", LOG_LEVEL="DEBUG")
    assert "DEBUG: Crawled (200)" in result.log
