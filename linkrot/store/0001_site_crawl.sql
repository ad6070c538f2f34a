-- 1: the site crawl
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    spider TEXT NOT NULL,
    site TEXT,
    args TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    state TEXT NOT NULL DEFAULT 'running',
    finish_reason TEXT,
    stats TEXT
);
CREATE TABLE urls (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    url TEXT NOT NULL,
    is_internal INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    http_status INTEGER,
    final_url TEXT,
    found_via TEXT,
    depth INTEGER,
    method TEXT,
    content_type TEXT,
    size INTEGER,
    elapsed_ms INTEGER,
    title TEXT,
    canonical_url TEXT,
    meta_robots TEXT,
    x_robots_tag TEXT,
    noindex INTEGER NOT NULL DEFAULT 0,
    nofollow INTEGER NOT NULL DEFAULT 0,
    chain TEXT,
    hops INTEGER NOT NULL DEFAULT 0,
    is_loop INTEGER NOT NULL DEFAULT 0,
    temp_redirect INTEGER NOT NULL DEFAULT 0,
    to_home INTEGER NOT NULL DEFAULT 0,
    soft_404 INTEGER NOT NULL DEFAULT 0,
    soft_404_reason TEXT,
    similarity REAL,
    error TEXT,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (run_id, url)
) WITHOUT ROWID;
CREATE TABLE links (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    source_url TEXT NOT NULL,
    target_url TEXT NOT NULL,
    anchor_text TEXT,
    rel TEXT,
    nofollow INTEGER NOT NULL DEFAULT 0,
    is_internal INTEGER NOT NULL,
    PRIMARY KEY (run_id, source_url, target_url)
) WITHOUT ROWID;
CREATE INDEX links_target ON links (run_id, target_url);
CREATE TABLE sitemap_urls (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    url TEXT NOT NULL,
    sitemap TEXT,
    PRIMARY KEY (run_id, url)
) WITHOUT ROWID;
