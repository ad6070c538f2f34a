"""Hardening: imported URLs cannot make linkrot reach its own network; hostile pages cost bounded time and memory."""

from __future__ import annotations

import pytest
from conftest import check_backlinks, log_problems

from linkrot.guard import forbidden_reason


@pytest.mark.parametrize(
    "address, kind",
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("fd00::1", "private"),
        ("93.184.215.14", None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
        ("example.com", None),
    ],
)
def test_forbidden_addresses(address, kind):
    reason = forbidden_reason(address)
    assert (reason is None) if kind is None else (kind in reason)


def test_imported_urls_never_reach_private_addresses(backlinks_web, tmp_path):
    port = backlinks_web.port
    target = f"http://www.ours.test:{port}/product.html"
    sources = [
        f"http://127.0.0.1:{port}/ssrf-literal",
        f"http://localhost:{port}/ssrf-localhost",
        f"http://[::1]:{port}/ssrf-v6",
        "http://169.254.169.254/latest/meta-data/",
        f"http://2130706433:{port}/ssrf-decimal",  # 127.0.0.1 written as a number
        f"http://moved.test:{port}/to-internal",  # a redirect from a public-looking page into the network
        f"http://js.test:{port}/ssrf.html",  # a page whose scripts call home
        f"http://live.test:{port}/post.html",  # mapped by LINKROT_RESOLVE: the user said where it is
    ]
    export = tmp_path / "export.csv"
    export.write_text("source_url,target_url\n" + "".join(f"{s},{target}\n" for s in sources))
    hits_before = len(backlinks_web.hits)
    result = check_backlinks(
        tmp_path / "x.db",
        f"file={export}",
        LINKROT_RESOLVE="*.test=127.0.0.1",
        DOWNLOAD_TIMEOUT=5,
    )
    rows = {r["source_url"]: r for r in result.rows("backlink_status")}
    for source in sources[:6]:
        row = rows[source]
        assert row["status"] == "blocked", row
        assert row["reason"].startswith("not fetched:") and "address" in row["reason"], row["reason"]
    assert "link-local" in rows["http://169.254.169.254/latest/meta-data/"]["reason"]
    assert (
        rows[f"http://moved.test:{port}/to-internal"]["hops"] == 1
    )  # the hop was followed, its target refused
    assert rows[f"http://js.test:{port}/ssrf.html"]["rendered"] == 1
    assert rows[f"http://live.test:{port}/post.html"]["status"] == "live"
    paths = [path for _, _, path in backlinks_web.hits[hits_before:]]
    assert not [p for p in paths if p.startswith("/ssrf-")], paths  # nothing reached the "internal" server
    # the page's scripts asked for http://localhost:…: refused by the browser's proxy, after DNS
    assert result.stats["linkrot/render/proxy_refused"] >= 1
    assert result.stats["linkrot/render/proxy_connections"] > result.stats["linkrot/render/proxy_refused"]

    allowed = check_backlinks(
        tmp_path / "y.db",
        f"file={export}",
        LINKROT_RESOLVE="*.test=127.0.0.1",
        DOWNLOAD_TIMEOUT=2,
        LINKROT_ALLOW_PRIVATE=True,
        LINKROT_RENDER="never",
    )
    assert allowed.one("backlink_status", source_url=sources[0])["http_status"] == 404  # fetched this time


def test_a_hostile_web_costs_bounded_time_and_memory_and_yields_clear_statuses(tmp_path):
    import resource
    import time

    from hostile import HostileServer

    with HostileServer() as server:
        port = server.port
        target = f"http://www.ours.test:{port}/"
        cases = {
            "huge": ("server_error", "too_large"),
            "bomb": ("server_error", "too_large"),
            "drip": ("server_error", "timeout"),
            "short": ("server_error", "connection_error"),
            "reset": ("server_error", "connection_error"),
            "links": ("live", "ok"),
            "nested": ("live", "ok"),  # the link comes before the nesting
            "nested-link": ("live", "ok"),  # the link is 200,000 levels down: found, as browsers do (issue 14)
            "bad-utf8": ("live", "ok"),
        }
        export = tmp_path / "hostile.csv"
        export.write_text(
            "source_url,target_url\n"
            + "".join(f"http://evil.test:{port}/{name}?target={target},{target}\n" for name in cases)
        )
        started = time.monotonic()
        result = check_backlinks(
            tmp_path / "x.db",
            f"file={export}",
            LINKROT_RESOLVE="*.test=127.0.0.1",
            LINKROT_RENDER="never",
            DOWNLOAD_TIMEOUT=10,
            RETRY_TIMES=0,
        )
        elapsed = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    rows = {r["source_url"].split("/")[3].split("?")[0]: r for r in result.rows("backlink_status")}
    for name, (verdict, outcome) in cases.items():
        assert (rows[name]["status"], rows[name]["outcome"]) == (verdict, outcome), (
            name,
            rows[name]["reason"],
        )
    assert "larger than the download size limit" in rows["huge"]["reason"]
    # nine hostile pages: a line at most for each problem, never a traceback or an error of linkrot's
    problems = log_problems(result.log)
    assert not problems["Traceback"] and not problems["ERROR"] and not problems["CRITICAL"], problems
    assert len(problems["WARNING"]) <= len(cases), problems["WARNING"]
    assert elapsed < 60
    assert peak < 1024**3, f"peak RSS {peak / 1024**2:.0f} MiB"


def test_crawl_traps_stop_with_default_limits_and_are_reported(vhost_server, tmp_path):
    from conftest import crawl

    port = vhost_server.port
    facets = crawl(tmp_path / "f.db", f"http://shop.test:{port}/facets", LINKROT_RESOLVE="*.test=127.0.0.1")
    assert facets.run["state"] == "finished"
    assert facets.db["pages"].count <= 1001  # the query-string cap, not 40^depth pages
    trap = facets.one("crawl_traps", pattern=f"http://shop.test:{port}/facets?…")
    assert trap["reason"] == "more than 1000 query strings of one path"
    assert facets.stats["linkrot/limit/trap"] > 0

    calendar = crawl(
        tmp_path / "c.db", f"http://shop.test:{port}/generated?n=1", LINKROT_RESOLVE="*.test=127.0.0.1"
    )
    assert max(r["depth"] for r in calendar.rows("pages")) == 30  # the default depth limit
    assert "deeper than LINKROT_MAX_DEPTH (30)" in calendar.one("crawl_traps")["reason"]


def test_trap_guard_cases():
    from linkrot.traps import TrapGuard

    guard = TrapGuard(max_query_variants=3)
    assert [guard.check(f"https://s.test/cal?m={i}") for i in range(3)] == [None] * 3
    assert guard.check("https://s.test/cal?m=9") == (
        "https://s.test/cal?…",
        "more than 3 query strings of one path",
    )
    assert guard.check("https://s.test/a/b/c/d/e/f/g/h") is None  # deep is not a loop
    pattern, reason = guard.check("https://s.test/docs/x/docs/x/docs/x/page")
    assert pattern == "https://s.test/docs/…" and reason == "the segment 'docs' repeats 3 times"
    assert guard.is_new(pattern, reason) and not guard.is_new(pattern, reason)


def test_query_strings_are_counted_in_fixed_memory_and_never_under():
    from linkrot.traps import QueryCounts, TrapGuard

    counts = QueryCounts(width=1024, rows=4)
    size = counts.nbytes
    truth = {f"https://s.test/p{i}": 1 + i % 7 for i in range(5000)}  # five times more paths than counters
    for key, n in truth.items():
        for _ in range(n):
            counts.add(key)
    assert counts.nbytes == size == 4 * 1024 * 4
    estimates = {key: counts.add(key) - 1 for key in truth}
    assert all(estimates[key] >= n for key, n in truth.items())  # a trap is never missed
    # at the default size, paths with a query string each trap nothing, even with a limit of 5
    guard = TrapGuard(max_query_variants=5)
    assert not [i for i in range(200_000) if guard.check(f"https://s.test/article-{i}?ref=home")]
    assert guard.variants.nbytes == 4 << 20


def test_the_depth_limit_is_reported_once_not_once_per_page(demo_server, tmp_path):
    from conftest import crawl

    shallow = crawl(tmp_path / "d.db", f"{demo_server.origin}/", "max_depth=1")
    assert shallow.stats["linkrot/limit/max_depth"] > 1  # several distinct pages lie past the limit
    assert [r["reason"] for r in shallow.rows("crawl_traps")] == [
        "deeper than LINKROT_MAX_DEPTH (1) clicks from the start"
    ]
