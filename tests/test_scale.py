"""Big crawls: bounded memory, no silent truncation, and one crawl shared by workers through a real Redis.

The Redis tests start ``redis-server`` on a free loopback port (``make test`` installs it) and
several ``scrapy crawl`` processes against one local site whose answers take a little time, so
that the workers really share the work.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
import sqlite_utils
from conftest import ROOT, crawl, run_scrapy

from demo.server import SiteServer
from linkrot.config import SiteConfig
from linkrot.frontier import Frontier
from linkrot.items import Link
from linkrot.store import DiskSeen, Store
from linkrot.summary import describe_limits, site_summary

PAGES = 400
RESOLVE = "*.test=127.0.0.1"


# -- pure: the seen-set on disk, the frontier, the words of a truncated crawl ----------------


@pytest.mark.parametrize("memory", [1000, 4], ids=["in-memory", "spilled-to-disk"])
def test_disk_seen_says_new_once_across_batches_and_flushes(tmp_path, memory):
    seen = DiskSeen(tmp_path / "seen.sqlite", batch=3, memory=memory)
    assert seen.claim(["https://a.test/1", "https://a.test/2", "https://a.test/1"]) == [True, True, False]
    assert seen.claim(["https://a.test/3", "https://a.test/2"]) == [True, False]  # 3 pending: flushed
    assert seen.known(["https://a.test/1", "https://a.test/4"]) == [True, False]
    assert "https://a.test/3" in seen and "https://a.test/5" not in seen
    assert seen.update(f"https://a.test/{i}" for i in range(10)) == 7 and len(seen) == 10
    # batches merged in any order, some past the memory bound: every URL claimed once stays seen
    urls = [f"https://b.test/{i}" for i in range(500)]
    assert seen.update(urls[::-1]) == 500 and seen.update(urls) == 0
    assert seen.known(urls[::7] + ["https://b.test/x"]) == [True] * len(urls[::7]) + [False]
    assert len(seen) == 510
    seen.close()
    assert not (tmp_path / "seen.sqlite").exists()  # scratch: gone when the process is done


def test_disk_seen_finds_hashes_at_both_ends_of_the_range_and_of_each_bucket(tmp_path):
    """The sorted array is searched within the bucket of a hash's top bits: the first and last hashes
    of the 64-bit range and of a bucket are found, their neighbours are not."""
    seen = DiskSeen(tmp_path / "seen.sqlite")
    bucket = 1 << 48
    held = [-(1 << 63), (1 << 63) - 1, -1, 0, bucket - 1, bucket, 5 * bucket + 7, -bucket]
    seen._pending.update(held)
    seen.flush()
    near = [-(1 << 63) + 1, (1 << 63) - 2, 1, -2, bucket + 1, bucket - 2, 5 * bucket + 6, -bucket - 1]
    assert seen._flushed(held + near) == set(held)
    seen.close()


class Stats(dict):
    def inc_value(self, key, n=1):
        self[key] = self.get(key, 0) + n

    def get_value(self, key, default=None):
        return self.get(key, default)

    def set_value(self, key, value):
        self[key] = value


def _config(**overrides) -> SiteConfig:
    config = SiteConfig.from_settings(
        {
            "LINKROT_INCLUDE_SUBDOMAINS": False,
            "LINKROT_CHECK_EXTERNAL": True,
            "LINKROT_MAX_PAGES": 0,
            "LINKROT_MAX_DEPTH": 0,
            "REDIRECT_MAX_TIMES": 10,
            "LINKROT_SOFT404_THRESHOLD": 0.8,
            "LINKROT_SITEMAP": True,
            "LINKROT_SITEMAP_PATHS": False,
            "LINKROT_MAX_QUERY_VARIANTS": 0,
            "LINKROT_RESUME": True,
            "LINKROT_CHECK_RESOURCES": True,
            "LINKROT_CHECK_FRAGMENTS": False,
        },
        {"url": "https://www.site.test/", **overrides},
    )
    return config


def _links(*paths: str) -> list[Link]:
    return [Link(f"https://www.site.test{p}", "", "", False, True) for p in paths]


@pytest.fixture(params=["disk", "redis"])
def workers_seen(request, tmp_path):
    """Makes the frontier of one more worker sharing a seen-set: on disk (the frontier of one process),
    or in Redis (each worker its own view, remembering what it learned; the page budget counted there)."""
    if request.param == "disk":
        seen = DiskSeen(tmp_path / "seen.sqlite")
        yield lambda config, stats: Frontier(config, stats, seen)
        return
    redis_url = request.getfixturevalue("redis_url")
    prefix = f"t:frontier:{os.urandom(4).hex()}"
    workers = []

    def frontier(config, stats):
        shared = _shared(redis_url, prefix)
        workers.append(shared)
        return Frontier(config, stats, shared.seen(), shared.count_pages)

    yield frontier
    workers[0].clear()


def test_frontier_admits_a_page_once_and_leaves_refused_links_unmarked(workers_seen):
    stats = Stats()
    frontier = workers_seen(_config(max_pages="3"), stats)
    assert frontier.claim("https://www.site.test/", page=True)
    admitted = frontier.admit_all(_links("/a", "/b", "/a", "/c", "/d"), 0)
    assert [a.url.rsplit("/", 1)[1] for a in admitted] == ["a", "b"]  # the budget of 3 pages bites at /c
    assert frontier.admit_all(_links("/a", "/b"), 0) == []  # seen
    # refused by the budget, not marked: still new (a resumed or re-limited crawl may fetch it)
    assert frontier.is_new("https://www.site.test/c")
    assert stats["linkrot/limit/max_pages"] >= 1 and frontier.limits() == ["max_pages=3"]


def test_a_worker_joining_a_crawl_whose_page_budget_is_spent_schedules_no_more_pages(redis_url):
    prefix = f"t:frontier:{os.urandom(4).hex()}"
    workers = [_shared(redis_url, prefix), _shared(redis_url, prefix)]
    try:
        first = Frontier(_config(max_pages="3"), Stats(), workers[0].seen(), workers[0].count_pages)
        assert first.claim("https://www.site.test/", page=True)
        assert len(first.admit_all(_links("/a", "/b"), 0)) == 2  # 3 pages: the budget is spent
        stats = Stats()  # a worker started now has scheduled nothing itself
        late = Frontier(_config(max_pages="3"), stats, workers[1].seen(), workers[1].count_pages)
        assert late.admit_all(_links("/c", "/d"), 0) == []
        assert late.is_new("https://www.site.test/c") and stats["linkrot/limit/max_pages"] >= 1
    finally:
        workers[0].clear()


def test_a_url_seen_as_a_resource_is_still_crawled_once_as_a_page_by_any_worker(workers_seen):
    """An image link checks a URL (HEAD); a link people follow to it has it crawled as a page, once,
    whichever worker of a shared crawl sees which link (they share the seen-set, nothing else)."""
    image = Link("https://www.site.test/guide.html", "", "", False, True, kind="img", is_page=False)
    a, b = workers_seen(_config(), Stats()), workers_seen(_config(), Stats())
    assert [(x.url, x.resource) for x in a.admit_all([image], 0)] == [
        ("https://www.site.test/guide.html", True)
    ]
    assert b.admit_all([image], 0) == []  # checked once as a resource
    assert [(x.url, x.resource) for x in b.admit_all(_links("/guide.html"), 0)] == [
        ("https://www.site.test/guide.html", False)
    ]
    assert a.admit_all(_links("/guide.html"), 0) == [] and a.admit_all([image], 0) == []
    assert b.pages == 1  # the page counts in the budget once
    # crawled as a page first: never checked again as a resource
    about = replace(image, target_url="https://www.site.test/about.html")
    assert a.admit_all(_links("/about.html"), 0) and b.admit_all([about], 0) == []


def test_a_truncated_crawl_is_described_with_its_limit_and_how_to_lift_it():
    assert describe_limits("max_pages=50000", 476976) == (
        "stopped at 50,000 pages: 476,976 URLs not crawled; `-a max_pages=0` lifts the limit"
    )
    assert describe_limits("max_depth=3,max_pages=10", 7).startswith(
        "stopped at depth 3, stopped at 10 pages"
    )


# -- whole crawls: the disk scheduler, and a crawl stopped at a limit --------------------------


def test_a_crawl_stopped_at_max_pages_says_so_in_the_run_row_summary_and_report(vhost_server, tmp_path):
    url = f"http://errors.test:{vhost_server.port}/generated?n=1"
    db = tmp_path / "limit.db"
    result = crawl(db, url, "max_pages=5", LINKROT_RESOLVE=RESOLVE)
    assert result.db["pages"].count == 5
    assert result.run["stopped_by"] == "max_pages=5"
    assert result.run["not_crawled"] >= 1  # links found on the 5 pages, never fetched
    assert "stopped at LINKROT_MAX_PAGES (5 pages)" in result.log  # when it bit
    said = f"stopped at 5 pages: {result.run['not_crawled']:,} URLs not crawled; `-a max_pages=0` lifts the limit"
    assert said in result.log  # and again when the run ends
    store = Store(db)
    try:
        assert said in site_summary(store)
    finally:
        store.close()
    report = subprocess.run(
        [str(Path(sys.executable).parent / "linkrot"), "report", "--db", str(db)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert said in report.stdout, report.stdout + report.stderr
    assert report.stdout.index("Crawls stopped at a limit") < report.stdout.index("Summary")


def test_a_crawl_without_a_limit_biting_has_no_stopped_by(vhost_server, tmp_path):
    result = crawl(
        tmp_path / "whole.db", f"http://www.shop.test:{vhost_server.port}/", LINKROT_RESOLVE=RESOLVE
    )
    assert result.run["stopped_by"] is None and result.run["not_crawled"] is None


def make_site(root: Path) -> None:
    """PAGES pages: page i links to i+1, 2i+1, 7i and every 40th to a missing page; /old/i redirects to
    page i; a sitemap lists every page and two orphans."""
    site = root / "www.big.test"
    site.mkdir(parents=True)
    routes = {}
    for i in range(PAGES):
        links = [j for j in (i + 1, 2 * i + 1, 7 * i) if 0 < j < PAGES]
        html = "".join(f'<a href="/p{j}.html">page {j}</a> ' for j in links)
        if i % 40 == 0:
            html += f'<a href="/missing-{i}.html">gone</a> <a href="/old/{i + 1}">moved</a>'
            routes[f"/old/{i + 1}"] = {"status": 301, "redirect": f"/p{i + 1}.html"}
        name = "index.html" if i == 0 else f"p{i}.html"
        (site / name).write_text(
            f"<html><head><title>Page {i}</title></head><body><p>text of page {i}</p>{html}</body></html>"
        )
    for orphan in ("orphan-1", "orphan-2"):
        (site / f"{orphan}.html").write_text(
            f"<html><head><title>{orphan}</title></head><body>alone</body></html>"
        )
    urls = [f"{{{{origin}}}}/p{i}.html" for i in range(1, PAGES)] + [
        "{{origin}}/orphan-1.html",
        "{{origin}}/orphan-2.html",
    ]
    (site / "sitemap.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(f"<url><loc>{u}</loc></url>" for u in urls)
        + "</urlset>"
    )
    (site / "robots.txt").write_text("User-agent: *\nAllow: /\nSitemap: {{origin}}/sitemap.xml\n")
    (site / "_routes.json").write_text(json.dumps(routes))


@pytest.fixture(scope="module")
def big_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("big")
    make_site(root)
    (root / "_routes.json").write_text((root / "www.big.test" / "_routes.json").read_text())
    with SiteServer(root, delay=0.05) as server:  # ~5 s for one worker: a second one has time to join
        yield server, f"http://www.big.test:{server.port}/"


def page_gets(server: SiteServer, since: int) -> Counter:
    """GETs of the site's pages in the request log since ``since`` (robots.txt, sitemaps and the 404
    probe are fetched once per worker and left out)."""
    return Counter(
        path
        for method, host, path in server.hits[since:]
        if method == "GET" and path.endswith(".html") and "linkrot-probe" not in path
    )


def test_the_site_spider_queues_on_disk_and_cleans_its_scratch(big_site, tmp_path):
    _, url = big_site
    db = tmp_path / "alone.db"
    result = crawl(db, url, LINKROT_RESOLVE=RESOLVE, LINKROT_MEMORY_REQUESTS=20)
    # past 20 pending requests in memory, the others waited on disk
    assert (
        result.stats["scheduler/enqueued/memory"] >= 20 and result.stats.get("scheduler/enqueued/disk", 0) > 0
    )
    assert result.stats["scheduler/dequeued/disk"] == result.stats["scheduler/enqueued/disk"]
    assert result.db["pages"].count >= PAGES + 2 and {
        r["url"].rsplit("/", 1)[1] for r in result.rows("orphans")
    } == {
        "orphan-1.html",
        "orphan-2.html",
    }
    assert not Path(f"{db}.scratch").exists()


# -- Redis: one crawl, many workers -----------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (make test installs it: apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline and proc.poll() is None, "redis-server did not start"
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0", client
    client.close()
    proc.terminate()
    proc.wait(10)


_WORKERS: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_worker_left(request):
    """A test that fails half-way leaves no crawl running behind it (CI waits for none), and no keys in
    the module's Redis: the next test's crawl of the same spider and export has the same key, and would
    join the stale run instead of starting its own."""
    yield
    while _WORKERS:
        proc = _WORKERS.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    if "redis_url" in request.fixturenames:
        request.getfixturevalue("redis_url")[1].flushdb()


def worker(command: list[str], **settings: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "scrapy", "crawl", *command, "-s", "LINKROT_PROGRESS_INTERVAL=0"]
    for name, value in settings.items():
        args += ["-s", f"{name}={value}"]
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "linkrot.settings"}
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _WORKERS.append(proc)
    return proc


def finish(proc: subprocess.Popen, timeout: float = 240) -> str:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=30)
        pytest.fail(f"the worker did not end within {timeout:.0f} s:\n{err[-4000:]}")
    assert proc.returncode == 0, err[-4000:]
    return err


def requests_made(log: str) -> int:
    lines = [l for l in log.splitlines() if "'downloader/request_count':" in l]
    return int(lines[0].split(":")[-1].strip(" ,")) if lines else 0


VIEW_COLUMNS = {
    "pages": "url, status, final_url, title, hops, soft_404, found_via",
    "broken_links": "source_url, url, status, anchor_text",
    "redirect_chains": "url, hops, final_url, final_status, is_loop",
    "soft_404s": "url",
    "orphans": "url, status",
}


def views(db: Path) -> dict[str, list[tuple]]:
    database = sqlite_utils.Database(db)
    return {
        view: [tuple(r.values()) for r in database.query(f"SELECT {cols} FROM {view} ORDER BY {cols}")]
        for view, cols in VIEW_COLUMNS.items()
    }


def _shared(redis_url, prefix: str):
    """A worker's view of a shared crawl, without a crawl around it (no heartbeat, no engine)."""
    from types import SimpleNamespace

    from linkrot.config import ScaleConfig
    from linkrot.scale import Shared

    crawler = SimpleNamespace(stats=Stats(), engine=None)
    return Shared(crawler, ScaleConfig(redis_url=redis_url[0], workers=2, lease=60.0), prefix)


def test_a_worker_pops_in_batches_and_sends_its_requests_with_the_next_pop(redis_url):
    """Fewer round trips to Redis, nothing lost: what a worker schedules is queued with its next pop,
    and what it popped and has not started goes back to the queue when it leaves."""
    client = redis_url[1]
    a, b = _shared(redis_url, "t:batch"), _shared(redis_url, "t:batch")
    for n in range(20):
        a.push(f"r{n:02}".encode(), n)  # score: the most urgent first
    assert client.zcard("t:batch:queue") == 0  # not sent yet: one round trip for all of them
    assert [data for _, data in a.exchange(8)] == [f"r{n:02}".encode() for n in range(8)]
    assert client.zcard("t:batch:queue") == 12 and client.hlen(f"t:batch:leases:{a.worker}") == 8
    assert [data for _, data in b.exchange(8)] == [f"r{n:02}".encode() for n in range(8, 16)]
    a.push(b"late", 99)
    a.leave(finished=False)  # interrupted with 8 requests popped and a request scheduled
    assert sorted(client.zrange("t:batch:queue", 0, -1)) == sorted(
        [f"r{n:02}".encode() for n in (*range(8), *range(16, 20))] + [b"late"]
    )
    b.push(b"found", 5)
    b.release([token for token in client.hkeys(f"t:batch:leases:{b.worker}")][:1])
    assert client.zscore("t:batch:queue", b"found") == 5  # queued before the lease it came from ends
    b.leave(finished=False)
    b.clear()


def test_a_worker_forgets_the_urls_it_knew_were_seen_once_a_dead_workers_claims_are_undone(redis_url):
    """A worker remembers which URLs are in the shared seen-set (a page whose links are all known asks
    Redis nothing); when a dead worker's claims are undone, the next pop says so and it asks again, so
    the redone page's links are crawled."""
    client = redis_url[1]
    dead, alive = _shared(redis_url, "t:epoch"), _shared(redis_url, "t:epoch")
    client.zadd("t:epoch:workers", {dead.worker: 0, alive.worker: time.time()})
    page = "https://www.site.test/a"
    dead_seen, seen = dead.seen(), alive.seen()
    assert dead_seen.claim([page], lease="0|lease") == [True]  # claimed while reading a leased page
    assert seen.known([page]) == [True]
    assert alive.reap() == (1, 0)  # not heard from for a lease: removed, its claims undone
    assert not client.smismember("t:epoch:seen", [dead_seen._hash(page)])[0]
    assert alive.exchange(8) == []  # the pop that could bring the redone page back
    assert seen.known([page]) == [False]
    assert seen.claim([page]) == [True]  # whoever redoes the page claims the link again
    alive.clear()


@pytest.fixture(scope="module")
def one_worker(big_site, tmp_path_factory):
    """The same site crawled by one process without Redis: what two workers must find too."""
    server, url = big_site
    since = len(server.hits)
    db = tmp_path_factory.mktemp("one") / "one.db"
    crawl(db, url, LINKROT_RESOLVE=RESOLVE)
    return db, page_gets(server, since)


def test_a_big_crawl_indexes_its_links_once_at_the_end_and_finds_the_same(big_site, one_worker, tmp_path):
    # past LINKROT_DEFER_LINK_INDEX URLs written or found, links are no longer indexed by target row by
    # row: the frontier knows of 100 URLs long before 100 are written
    _, url = big_site
    alone, _ = one_worker
    db = tmp_path / "deferred.db"
    result = crawl(db, url, LINKROT_RESOLVE=RESOLVE, LINKROT_DEFER_LINK_INDEX=100, LINKROT_BATCH_SIZE=50)
    written, found = map(int, re.search(r"(\d+) URLs written, (\d+) found", result.log).groups())
    assert written == result.stats["linkrot/link_index/deferred_at"] < 100 <= found
    assert result.stats["linkrot/writer_thread/from"] == result.stats["linkrot/link_index/deferred_at"]
    assert "links indexed by target in" in result.log
    assert views(db) == views(alone)
    assert [r["name"] for r in result.db.query("SELECT name FROM sqlite_master WHERE name = 'links_target'")]


# the pages /old/N redirects to: fetched as pages and as the last hop of the chain
REDIRECT_TARGETS = {f"/p{i + 1}.html" for i in range(0, PAGES, 40)}


def test_two_workers_share_one_site_crawl_each_page_fetched_once(big_site, redis_url, one_worker, tmp_path):
    server, url = big_site
    alone, alone_gets = one_worker
    db = tmp_path / "shared.db"
    since = len(server.hits)
    settings = {
        "LINKROT_DB": str(db),
        "LINKROT_RESOLVE": RESOLVE,
        "LINKROT_REDIS_URL": redis_url[0],
        "LINKROT_WORKERS": "2",
    }
    first = worker(["site", "-a", f"url={url}"], **settings)
    second = worker(["site", "-a", f"url={url}"], **settings)
    logs = [finish(first), finish(second)]
    gets = page_gets(server, since)
    twice = {p for p, n in gets.items() if n > 1}
    assert len(gets) > PAGES and twice == REDIRECT_TARGETS  # each page once in total (a chain's end aside)
    assert gets == alone_gets  # the same requests as one worker made
    made = [requests_made(log) for log in logs]
    assert min(made) > PAGES / 10, made  # both did a share of the work
    shared = sqlite_utils.Database(db)
    run = list(shared.query("SELECT * FROM runs"))
    assert len(run) == 1 and run[0]["state"] == "finished"
    assert views(db) == views(alone)
    assert not redis_url[1].keys("linkrot:site:*")  # the last worker cleaned up
    assert sum("closes it" in log for log in logs) == 1, [
        l[-3000:] for l in logs
    ]  # one worker closed the run, the other left


def test_a_worker_killed_mid_crawl_loses_nothing_and_duplicates_nothing(
    big_site, redis_url, one_worker, tmp_path
):
    _, url = big_site
    alone, _ = one_worker
    db = tmp_path / "killed.db"
    settings = {
        "LINKROT_DB": str(db),
        "LINKROT_RESOLVE": RESOLVE,
        "LINKROT_REDIS_URL": redis_url[0],
        "LINKROT_WORKERS": "2",
        "LINKROT_LEASE_SECONDS": "3",
        "LINKROT_FLUSH_INTERVAL": "0.5",
        "LINKROT_DEFER_LINK_INDEX": "50",  # the workers stop indexing links; the one that closes the run builds it
    }
    survivor = worker(["site", "-a", f"url={url}"], **settings)
    victim = worker(["site", "-a", f"url={url}"], **settings)
    deadline = time.monotonic() + 120
    while True:  # kill the victim while pages are being crawled
        for proc in (survivor, victim):  # a worker that ended before the kill says why
            assert proc.poll() is None, f"a worker exited with {proc.returncode}: {proc.stderr.read()[-3000:]}"
        assert time.monotonic() < deadline
        rows = 0
        if db.exists():
            try:
                with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
                    rows = conn.execute("SELECT count(*) FROM urls").fetchone()[0]
            except sqlite3.OperationalError:  # the schema may not be there yet
                rows = 0
        if rows >= PAGES / 4 and leases_of(redis_url[1], "site", victim):  # it holds pages: some to redo
            break
        time.sleep(0.1)
    victim.send_signal(signal.SIGKILL)
    victim.wait(30)
    log = finish(survivor)
    assert "queued again" in log  # the victim's requests in flight were redone
    run = list(sqlite_utils.Database(db).query("SELECT * FROM runs"))
    assert len(run) == 1 and run[0]["state"] == "finished"
    assert views(db) == views(alone)  # nothing lost
    # nothing twice: one row per URL (the key), and no page counted twice in the views
    pages = [r[0] for r in views(db)["pages"]]
    assert len(pages) == len(set(pages))


def leases_of(client, spider: str, proc: subprocess.Popen) -> int:
    """How many requests the worker ``proc`` has popped and not finished (its id holds its pid)."""
    return sum(client.hlen(key) for key in client.keys(f"linkrot:{spider}:*:leases:*-{proc.pid}-*"))


def wait_for_run(client, spider: str, proc: subprocess.Popen) -> None:
    """Until the first worker has created the shared run (so that it is the one whose database holds it)."""
    deadline = time.monotonic() + 60
    while not client.keys(f"linkrot:{spider}:*:run"):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)


@pytest.mark.parametrize("kill", [False, True], ids=["whole", "remote-worker-killed"])
def test_workers_on_another_machine_send_their_results_to_the_run_database(
    big_site, redis_url, one_worker, tmp_path, kill
):
    """A worker whose LINKROT_DB does not hold the run (another machine) crawls its share; its results
    reach the run's database through Redis, written by the worker that holds it."""
    server, url = big_site
    alone, alone_gets = one_worker
    db, elsewhere = tmp_path / "main.db", tmp_path / "elsewhere" / "other.db"
    elsewhere.parent.mkdir()
    settings = {
        "LINKROT_RESOLVE": RESOLVE,
        "LINKROT_REDIS_URL": redis_url[0],
        "LINKROT_WORKERS": "2",
        "LINKROT_LEASE_SECONDS": "3",
        "LINKROT_FLUSH_INTERVAL": "0.5",
    }
    since = len(server.hits)
    writer = worker(["site", "-a", f"url={url}"], LINKROT_DB=str(db), **settings)
    wait_for_run(redis_url[1], "site", writer)
    remote = worker(["site", "-a", f"url={url}"], LINKROT_DB=str(elsewhere), **settings)
    if kill:
        deadline = time.monotonic() + 120
        # kill it while pages are being crawled and it holds some of them (it starts while the writer
        # already crawls: killed before its first pop, it would leave nothing to take over)
        while len(server.hits) - since < PAGES / 3 or not leases_of(redis_url[1], "site", remote):
            assert time.monotonic() < deadline and remote.poll() is None
            time.sleep(0.02)
        remote.send_signal(signal.SIGKILL)
        remote.wait(30)
        log = finish(writer)
        assert "queued again" in log or "stopped answering" in log
    else:
        logs = [finish(writer), finish(remote)]
        assert "of another database" in logs[1]
        assert requests_made(logs[1]) > PAGES / 10  # it crawled a share
        gets = page_gets(server, since)
        assert gets == alone_gets  # each page once in total, as one worker fetches them
    main = sqlite_utils.Database(db)
    run = list(main.query("SELECT state FROM runs"))
    assert run == [{"state": "finished"}]
    assert views(db) == views(alone)  # every result is in the run's database, none twice
    pages = [r[0] for r in views(db)["pages"]]
    assert len(pages) == len(set(pages))
    assert not list(sqlite_utils.Database(elsewhere).query("SELECT * FROM runs"))  # no run of its own
    assert not redis_url[1].keys("linkrot:site:*")


def make_backlinks_web(root: Path) -> None:
    for h in range(6):
        host = root / f"h{h}.test"
        host.mkdir(parents=True)
        (host / "robots.txt").write_text("User-agent: *\nAllow: /\n")
        for i in range(40):
            link = (
                '<a href="{{origin}}/x">x</a>'
                if i % 10 == 9
                else f'<a href="http://www.ours.test:{{{{port}}}}/t{i % 5}.html">us</a>'
            )
            (host / f"p{i}.html").write_text(f"<html><body><p>page {i}</p>{link}</body></html>")
    ours = root / "www.ours.test"
    ours.mkdir()
    for t in range(4):  # t4.html is missing: a broken target
        (ours / f"t{t}.html").write_text("<html><body>target</body></html>")


@pytest.fixture(scope="module")
def backlinks_web(tmp_path_factory):
    """240 referring pages on 6 hosts, an export of their backlinks, and the database of one worker."""
    tmp_path = tmp_path_factory.mktemp("backlinks")
    root = tmp_path / "web"
    make_backlinks_web(root)
    # one request per host at a time, 0.3 s each: several seconds of checks, so that a worker starting a
    # second after the other still gets its share (at 0.1 s the first one had checked nearly all 240)
    with SiteServer(root, delay=0.3) as server:
        export = tmp_path / "export.csv"
        rows = [
            f"http://h{h}.test:{server.port}/p{i}.html,http://www.ours.test:{server.port}/t{i % 5}.html"
            for h in range(6)
            for i in range(40)
        ]
        export.write_text("source_url,target_url\n" + "\n".join(rows) + "\n")
        alone_db = tmp_path / "alone.db"
        proc = run_scrapy(
            ["crawl", "backlinks", "-a", f"file={export}", "-s", f"LINKROT_DB={alone_db}"]
            + [a for k, v in BACKLINKS_SETTINGS.items() for a in ("-s", f"{k}={v}")]
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        yield server, export, alone_db


BACKLINKS_SETTINGS = {"LINKROT_RESOLVE": RESOLVE, "LINKROT_RENDER": "never"}
BACKLINK_STATUS = "SELECT source_url, target_url, status, target_status FROM backlink_status ORDER BY 1, 2"


def test_two_workers_share_one_backlinks_check_queue(redis_url, backlinks_web, tmp_path):
    server, export, alone_db = backlinks_web
    since = len(server.hits)
    db = tmp_path / "shared.db"
    settings = {
        **BACKLINKS_SETTINGS,
        "LINKROT_DB": str(db),
        "LINKROT_REDIS_URL": redis_url[0],
        "LINKROT_WORKERS": "2",
    }
    first = worker(["backlinks", "-a", f"file={export}"], **settings)
    second = worker(["backlinks", "-a", f"file={export}"], **settings)
    logs = [finish(first), finish(second)]
    pages = Counter(p for m, h, p in server.hits[since:] if m == "GET" and p.startswith("/p"))
    assert len(pages) == 40 and set(pages.values()) == {
        6
    }  # 240 referring pages (40 paths × 6 hosts), each once
    made = [requests_made(log) for log in logs]
    assert min(made) > 30, made  # both checked a share
    shared = sqlite_utils.Database(db)
    assert (
        shared["runs"].count == 1
        and next(iter(shared.query("SELECT state FROM runs")))["state"] == "finished"
    )
    assert shared["backlink_checks"].count == shared["backlinks"].count == 240  # exactly one check each
    alone = sqlite_utils.Database(alone_db)
    assert shared["backlink_events"].count == alone["backlink_events"].count > 0  # the history ran once
    assert list(shared.query(BACKLINK_STATUS)) == list(alone.query(BACKLINK_STATUS))


def test_the_feeding_worker_killed_mid_queue_is_taken_over(redis_url, backlinks_web, tmp_path):
    """The worker that streams the check queue into Redis dies: another feeds the rest, nothing lost."""
    _, export, alone_db = backlinks_web
    client = redis_url[1]
    db = tmp_path / "feeder.db"
    settings = {
        **BACKLINKS_SETTINGS,
        "LINKROT_DB": str(db),
        "LINKROT_REDIS_URL": redis_url[0],
        "LINKROT_WORKERS": "2",
        "LINKROT_LEASE_SECONDS": "3",
        "LINKROT_FLUSH_INTERVAL": "0.5",
        "LINKROT_SHARED_QUEUE_AHEAD": "4",  # the feeder stays just ahead of the workers
    }
    feeder = worker(["backlinks", "-a", f"file={export}"], **settings)
    deadline = time.monotonic() + 60
    while not client.keys("linkrot:backlinks:*:run"):  # the feeder created the run and feeds it
        assert time.monotonic() < deadline and feeder.poll() is None
        time.sleep(0.05)
    prefix = client.keys("linkrot:backlinks:*:run")[0].decode()[: -len(":run")]
    survivor = worker(["backlinks", "-a", f"file={export}"], **settings)
    while True:  # kill the feeder while the queue is being fed
        assert time.monotonic() < deadline and feeder.poll() is None and survivor.poll() is None
        fed = client.get(f"{prefix}:fed")
        if fed is not None and int(fed) >= 60:
            break
        time.sleep(0.02)
    feeder.send_signal(signal.SIGKILL)
    feeder.wait(30)
    assert client.get(f"{prefix}:fed") != b"done"  # the kill came mid-queue
    log = finish(survivor)
    assert "feeds it on from" in log  # the survivor took the feeding over
    shared = sqlite_utils.Database(db)
    assert next(iter(shared.query("SELECT state FROM runs")))["state"] == "finished"
    assert shared["backlink_checks"].count == 240  # every backlink checked, none twice
    alone = sqlite_utils.Database(alone_db)
    assert list(shared.query(BACKLINK_STATUS)) == list(alone.query(BACKLINK_STATUS))


def test_the_seeding_worker_killed_before_it_seeded_is_taken_over(redis_url, tmp_path):
    """The first worker creates the run, then dies while it learns the site's 404 page (before it
    queues robots.txt and the start URL): another worker seeds the crawl and finishes it."""
    root = tmp_path / "web" / "www.slow.test"
    root.mkdir(parents=True)
    for i in range(4):
        (root / f"p{i}.html").write_text(f'<html><body><a href="/p{i + 1}.html">next</a></body></html>')
    (root / "index.html").write_text('<html><body><a href="/p0.html">start</a></body></html>')
    client = redis_url[1]
    with SiteServer(tmp_path / "web", delay=4.0) as server:  # the probe alone takes 4 s
        url = f"http://www.slow.test:{server.port}/"
        settings = {
            "LINKROT_DB": str(tmp_path / "slow.db"),
            "LINKROT_RESOLVE": RESOLVE,
            "LINKROT_REDIS_URL": redis_url[0],
            "LINKROT_WORKERS": "2",
            "LINKROT_LEASE_SECONDS": "2",
        }
        seeder = worker(["site", "-a", f"url={url}"], **settings)
        wait_for_run(client, "site", seeder)
        prefix = client.keys("linkrot:site:*:run")[0].decode()[: -len(":run")]
        survivor = worker(["site", "-a", f"url={url}"], **settings)
        deadline = time.monotonic() + 60
        while client.zcard(f"{prefix}:workers") < 2:  # the survivor has joined
            assert time.monotonic() < deadline and survivor.poll() is None
            time.sleep(0.05)
        assert client.get(f"{prefix}:fed") != b"done"  # the seeder has not seeded yet
        seeder.send_signal(signal.SIGKILL)
        seeder.wait(30)
        log = finish(survivor)
    assert "feeds it on from the start" in log
    db = sqlite_utils.Database(tmp_path / "slow.db")
    assert next(iter(db.query("SELECT state FROM runs")))["state"] == "finished"
    crawled = {r["url"].removeprefix(url) for r in db.query("SELECT url FROM pages WHERE status = 200")}
    assert crawled == {"", *(f"p{i}.html" for i in range(4))}
