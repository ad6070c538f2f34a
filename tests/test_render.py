"""Renders: what is aborted, the browser's settings and budget, and the pooled handler with real Chromium.

The handler tests run a scenario of this module in a subprocess (``python tests/test_render.py
SCENARIO``): the download handler needs Twisted's asyncio reactor, which cannot be installed
in a pytest process that may already hold another one.  Pages come from ``tests/render_web``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings

from linkrot import render
from linkrot.errors import ConfigError
from linkrot.guard import POLICY

HERE = Path(__file__).resolve().parent
RENDER_WEB = HERE / "render_web"


# -- what a render loads --------------------------------------------------------------------------

ABORT_CASES = [
    ("stylesheet", "https://blog.example/style.css", True),
    ("Stylesheet", "https://blog.example/theme?v=2", True),  # CDP spells types capitalized
    ("image", "https://blog.example/pixel?id=7", True),  # no extension needed: the type says it
    ("font", "https://fonts.example/brand.woff2", True),
    ("media", "https://blog.example/clip.mp4", True),
    ("script", "https://www.google-analytics.com/analytics.js", True),
    ("xhr", "https://region1.google-analytics.com/g/collect?v=2", True),
    ("script", "https://securepubads.g.doubleclick.net/tag/js/gpt.js", True),
    ("document", "https://www.google-analytics.com/", False),  # a referring page is never aborted
    ("script", "https://blog.example/app.js", False),
    ("fetch", "https://blog.example/api/link.json", False),
    ("xhr", "https://api.example/x?ref=www.google-analytics.com", False),  # the name in a query
    ("script", "https://disqus.com/embed.js", False),  # a widget may write links
    ("document", "https://blog.example/frame.html", False),
]


@pytest.mark.parametrize("kind, url, aborted", ABORT_CASES, ids=[f"{k} {u}" for k, u, _ in ABORT_CASES])
def test_should_abort(kind, url, aborted):
    assert render.should_abort(kind, url) is aborted


def test_ip_literals_are_aborted_only_while_the_guard_is_on():
    try:
        POLICY.configure(enabled=True, allowed_hosts=set())
        assert render.should_abort("xhr", "http://169.254.169.254/latest/meta-data/")
        assert render.should_abort("script", "http://127.0.0.1:8080/x.js")
        assert not render.should_abort("script", "http://93.184.215.14/x.js")
        POLICY.configure(enabled=False, allowed_hosts=set())
        assert not render.should_abort("xhr", "http://169.254.169.254/latest/meta-data/")
    finally:
        POLICY.configure(enabled=False, allowed_hosts=set())


def test_fetch_patterns_pause_only_what_may_be_aborted():
    types = {p["resourceType"] for p in render.FETCH_PATTERNS if "resourceType" in p}
    assert types == {"Stylesheet", "Image", "Font", "Media"}  # never Document, Script, XHR or Fetch
    urls = [p["urlPattern"] for p in render.FETCH_PATTERNS if "urlPattern" in p]
    assert "*google-analytics.com*" in urls and len(urls) == len(render.TRACKER_DOMAINS)


# -- settings -----------------------------------------------------------------------------------


def settings(**values: Any) -> Settings:
    base = Settings()
    base.setmodule("linkrot.settings")
    base.setdict(values, priority="cmdline")
    return base


def test_browser_config_defaults_follow_the_cores():
    config = render.BrowserConfig.from_settings(settings())
    assert config.pages == render.default_pages() >= 2
    assert config.memory_mb == 448 and config.js_heap_mb == 112


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("LINKROT_BROWSER_MEMORY_MB", "100", "LINKROT_BROWSER_MEMORY_MB: must be at least 192, got 100"),
        ("LINKROT_BROWSER_MEMORY_MB", "lots", "LINKROT_BROWSER_MEMORY_MB: expected a whole number, got 'lots'"),
        ("LINKROT_RENDER_PAGES", "-1", "LINKROT_RENDER_PAGES: must be at least 0, got -1"),
        ("LINKROT_CHROMIUM", "/nowhere/chrome", "LINKROT_CHROMIUM: no executable at '/nowhere/chrome'"),
    ],
)
def test_bad_browser_settings_are_one_line_errors(name, value, message):
    with pytest.raises(ConfigError) as error:
        render.BrowserConfig.from_settings(settings(**{name: value}))
    assert str(error.value) == message


def test_launch_options_run_one_process_with_a_bounded_heap():
    options = render.launch_options("/usr/bin/chromium", render.HostMap.parse("*.test=127.0.0.1"), 8123, 96)
    args = options["args"]
    assert {"--single-process", "--no-zygote", "--in-process-gpu"} <= set(args)
    assert "--js-flags=--max-old-space-size=96" in args
    # Chromium reads only the last of these switches: one each, carrying Playwright's own values
    features = [a for a in args if a.startswith("--disable-features=")]
    assert len(features) == 1 and "HttpsUpgrades" in features[0] and "BackForwardCache" in features[0]
    blink = [a for a in args if a.startswith("--blink-settings=")]
    assert len(blink) == 1 and "imagesEnabled=false" in blink[0] and "primaryPointerType=4" in blink[0]
    assert "--proxy-server=http://127.0.0.1:8123" in args
    assert options["executable_path"] == "/usr/bin/chromium"


def test_only_the_headless_shell_is_given_its_frames(tmp_path):
    hostmap = render.HostMap.parse("")
    framed = render.launch_options("/usr/lib/chromium/chromium-headless-shell", hostmap, frames=True)["args"]
    assert set(render.FRAME_CONTROL_FLAGS) <= set(framed)
    assert not set(render.FRAME_CONTROL_FLAGS) & set(render.launch_options("/usr/bin/chromium", hostmap)["args"])
    assert render.controls_frames("/usr/lib/chromium/chromium-headless-shell")
    assert render.controls_frames("/home/u/.cache/ms-playwright/chromium_headless_shell-1200/chrome-linux/headless_shell")
    assert not render.controls_frames("/usr/bin/chromium") and not render.controls_frames(None)
    # the full browser has no command for it (HeadlessExperimental.beginFrame): it draws its own frames
    full = tmp_path / "chromium"
    full.write_text("")
    config = render.BrowserConfig.from_settings(settings(LINKROT_CHROMIUM=str(full)))
    assert not config.frames
    assert not set(render.FRAME_CONTROL_FLAGS) & set(render.configure(settings(LINKROT_CHROMIUM=str(full)))["PLAYWRIGHT_LAUNCH_OPTIONS"]["args"])


def test_configure_gives_renders_a_slot_as_wide_as_the_browser():
    applied = render.configure(settings(LINKROT_RENDER_PAGES=3, LINKROT_BROWSER_MEMORY_MB=256))
    assert applied["DOWNLOAD_HANDLERS"] == {"http": render.HANDLER, "https": render.HANDLER}
    assert applied["DOWNLOAD_SLOTS"][render.RENDER_SLOT] == {"concurrency": 3, "delay": 0}
    assert applied["LINKROT_BROWSER_PROXY_PORT"] > 0
    assert "--js-flags=--max-old-space-size=64" in applied["PLAYWRIGHT_LAUNCH_OPTIONS"]["args"]
    assert render.configure(settings(LINKROT_ALLOW_PRIVATE=True))["LINKROT_BROWSER_PROXY_PORT"] == 0
    meta = render.request_meta(2.5, ["ours.test"])
    assert meta["linkrot_render"] == {"wait": 2.5, "hosts": ["ours.test"]}
    assert meta["download_slot"] == render.RENDER_SLOT


def test_the_headless_shell_is_preferred(tmp_path, monkeypatch):
    shell, full = tmp_path / "chromium-headless-shell", tmp_path / "chromium"
    full.write_text("")
    monkeypatch.setattr(render, "CHROMIUM_CANDIDATES", (str(shell), str(full)))
    assert render.find_chromium("") == str(full)
    shell.write_text("")
    assert render.find_chromium("") == str(shell)


# -- the pooled handler, with Chromium ----------------------------------------------------------


def run_scenario(name: str, port: int, **settings: Any) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, name, str(port), json.dumps(settings)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=HERE.parent,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def render_web():
    from demo.server import SiteServer

    with SiteServer(RENDER_WEB) as server:
        yield server


def test_pages_are_reused_from_render_to_render(render_web):
    port = render_web.port
    urls = [f"http://pages.test:{port}/js.html?n={i}" for i in range(6)]
    out = run_scenario("render", port, urls=urls, together=True, LINKROT_RENDER_PAGES=2)
    assert [r["has_link"] for r in out["results"]] == [True] * 6
    stats = out["stats"]
    assert stats["linkrot/render/pages_opened"] == 2  # six renders, two pages
    assert stats["linkrot/render/driver_started"] == 1 and stats["linkrot/render/browser_launched"] == 1


def test_a_page_without_the_link_is_read_once_the_network_is_idle(render_web):
    port = render_web.port
    out = run_scenario("render", port, urls=[f"http://pages.test:{port}/no-link.html"])
    (result,) = out["results"]
    assert not result["has_link"] and "<hr>" in result["html"]  # what its script built is there


def test_only_the_document_its_scripts_and_what_they_fetch_are_loaded(render_web):
    port = render_web.port
    before = len(render_web.hits)
    out = run_scenario("render", port, urls=[f"http://assets.test:{port}/page.html"])
    assert out["results"][0]["has_link"]  # written by a script from a fetched URL
    paths = sorted(path for _, host, path in render_web.hits[before:] if host.startswith("assets.test"))
    assert paths == ["/api/link.txt", "/app.js", "/page.html"]
    assert not [h for _, h, _ in render_web.hits[before:] if "google-analytics" in h]


def test_scripts_that_wait_for_a_frame_add_their_links(render_web):
    # the headless shell draws no frame of its own (render.FRAME_CONTROL_FLAGS): linkrot gives them
    port = render_web.port
    urls = [f"http://pages.test:{port}/raf.html", f"http://pages.test:{port}/seen.html"]
    out = run_scenario("render", port, urls=urls, together=True)
    animated, lazy = (r.get("html", r.get("error")) for r in out["results"])
    assert ">animated</a>" in animated  # added on the second requestAnimationFrame
    assert ">lazy</a>" in lazy  # added by an IntersectionObserver


def test_renders_keep_their_pace_while_the_crawl_keeps_the_event_loop_busy(render_web):
    # Playwright's client waited for an idle event loop after each message from its driver: in a busy
    # crawl a render took seconds (browser.DISPATCH_TURNS; 3 renders here took 178 s against 5 s)
    port = render_web.port
    urls = [f"http://pages.test:{port}/js.html?n={i}" for i in range(2)]
    out = run_scenario("render", port, urls=urls, busy=0.005, LINKROT_RENDER_PAGES=1)
    assert [r.get("has_link") for r in out["results"]] == [True, True]
    assert out["seconds"] < 15


def test_the_bound_on_playwrights_dispatch_is_still_there():
    # a private value of Playwright's (browser.bound_dispatch_turns): an upgrade that drops it fails here
    from playwright._impl.utils import tasks

    from linkrot import browser

    before = tasks._MAX_TURNS
    try:
        assert browser.bound_dispatch_turns()
        assert tasks._MAX_TURNS == browser.DISPATCH_TURNS
    finally:
        tasks._MAX_TURNS = before


def test_over_its_memory_budget_the_browser_is_launched_again(render_web):
    port = render_web.port
    urls = [f"http://pages.test:{port}/heavy.html?n={i}" for i in range(3)]
    out = run_scenario("render", port, urls=urls, LINKROT_BROWSER_MEMORY_MB=192, check_every=0)
    assert [r["has_link"] for r in out["results"]] == [True] * 3
    stats = out["stats"]
    assert stats["linkrot/render/browser_recycled"] >= 1 and stats["linkrot/render/browser_launched"] >= 2
    assert stats["linkrot/render/browser_peak_mb"] > 192


def test_a_page_that_hangs_the_browser_fails_alone(render_web):
    port = render_web.port
    urls = [f"http://hang.test:{port}/loop.html", f"http://pages.test:{port}/js.html"]
    out = run_scenario("render", port, urls=urls, DOWNLOAD_TIMEOUT=3, LINKROT_RENDER_PAGES=1)
    hung, after = out["results"]
    assert "error" in hung and "RenderCrashed" in hung["error"]
    assert after["has_link"]  # rendered by a browser launched again
    assert out["stats"]["linkrot/render/hung"] >= 1
    assert out["stats"]["linkrot/render/browser_launched"] >= 2


def test_a_page_that_exhausts_its_js_heap_fails_alone(render_web):
    port = render_web.port
    urls = [f"http://hang.test:{port}/oom.html", f"http://pages.test:{port}/js.html"]
    out = run_scenario("render", port, urls=urls, LINKROT_BROWSER_MEMORY_MB=256, LINKROT_RENDER_PAGES=1)
    crashed, after = out["results"]
    assert "error" in crashed  # the heap limit (64 MiB here) stopped it
    assert after["has_link"]
    assert out["stats"]["linkrot/render/browser_launched"] >= 2


def test_no_driver_starts_when_no_page_needs_a_render(backlinks_web, tmp_path):
    from conftest import check_backlinks

    port = backlinks_web.port
    export = tmp_path / "export.csv"
    export.write_text(
        "source_url,target_url\n"
        f"http://live.test:{port}/post.html,http://www.ours.test:{port}/product.html\n"
        f"http://removed.test:{port}/post.html,http://www.ours.test:{port}/product.html\n"
    )
    result = check_backlinks(tmp_path / "x.db", f"file={export}", LINKROT_RESOLVE="*.test=127.0.0.1")
    assert {r["status"] for r in result.rows("backlink_status")} == {"live", "link_removed"}
    assert "linkrot/render/driver_started" not in result.stats
    assert "Playwright's driver started" not in result.log


# -- the scenario runner (a subprocess of the tests above) ---------------------------------------


async def _scenario(port: int, options: dict) -> dict:
    from scrapy.http import Request
    from scrapy.utils.test import get_crawler

    from linkrot import browser

    if "check_every" in options:
        browser.MEMORY_CHECK_INTERVAL = options.pop("check_every")
    busy = options.pop("busy", 0)
    urls = options.pop("urls")
    together = options.pop("together", False)
    defaults = {
        "LINKROT_RESOLVE": "*.test=127.0.0.1,*.google-analytics.com=127.0.0.1",
        "LINKROT_ALLOW_PRIVATE": True,
        "DOWNLOAD_TIMEOUT": 10,
    }
    base = settings(**{**defaults, **options})
    crawler = get_crawler(settings_dict={**base.copy_to_dict(), **render.configure(base)})
    handler = browser.SharedPlaywrightHandler.from_crawler(crawler)
    async def one(url: str) -> dict:
        meta = render.request_meta(2.0, ["ours.test"])
        try:
            response = await handler.download_request(Request(url, meta=meta))
        except Exception as exc:
            return {"url": url, "error": f"{type(exc).__name__}: {exc}"[:300]}
        return {"url": url, "html": response.text, "has_link": "www.ours.test" in response.text}

    async def hog() -> None:  # a crawl's own work: the event loop never idle, busy in `busy`-second slices
        while True:
            until = time.perf_counter() + busy
            while time.perf_counter() < until:
                pass
            await asyncio.sleep(0)

    hogging = asyncio.ensure_future(hog()) if busy else None
    started = time.monotonic()
    if together:  # as many at once as Scrapy's render slot lets through
        results = list(await asyncio.gather(*(one(url) for url in urls)))
    else:
        results = [await one(url) for url in urls]
    elapsed = time.monotonic() - started
    if hogging is not None:
        hogging.cancel()
    await handler.close()
    return {"results": results, "stats": crawler.stats.get_stats(), "seconds": elapsed}


def main() -> None:
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    _, port, options = sys.argv[1:4]
    loop = asyncio.get_event_loop()
    out = loop.run_until_complete(_scenario(int(port), json.loads(options)))
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
