"""Hardening: imported URLs cannot make linkrot reach its own network; hostile pages cost bounded time and memory."""

from __future__ import annotations

import pytest

from conftest import check_backlinks
from linkrot.guard import forbidden_reason


@pytest.mark.parametrize(
    "address, kind",
    [
        ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.1", "private"),
        ("172.16.5.4", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"), ("fd00::1", "private"),
        ("93.184.215.14", None), ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None), ("example.com", None),
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
        tmp_path / "x.db", f"file={export}", LINKROT_RESOLVE="*.test=127.0.0.1", DOWNLOAD_TIMEOUT=5,
    )
    rows = {r["source_url"]: r for r in result.rows("backlink_status")}
    for source in sources[:6]:
        row = rows[source]
        assert row["status"] == "blocked", row
        assert row["reason"].startswith("not fetched:") and "address" in row["reason"], row["reason"]
    assert "link-local" in rows["http://169.254.169.254/latest/meta-data/"]["reason"]
    assert rows[f"http://moved.test:{port}/to-internal"]["hops"] == 1  # the hop was followed, its target refused
    assert rows[f"http://js.test:{port}/ssrf.html"]["rendered"] == 1
    assert rows[f"http://live.test:{port}/post.html"]["status"] == "live"
    paths = [path for _, _, path in backlinks_web.hits[hits_before:]]
    assert not [p for p in paths if p.startswith("/ssrf-")], paths  # nothing reached the "internal" server

    allowed = check_backlinks(
        tmp_path / "y.db", f"file={export}", LINKROT_RESOLVE="*.test=127.0.0.1", DOWNLOAD_TIMEOUT=2,
        LINKROT_ALLOW_PRIVATE=True, LINKROT_RENDER="never",
    )
    assert allowed.one("backlink_status", source_url=sources[0])["http_status"] == 404  # fetched this time
