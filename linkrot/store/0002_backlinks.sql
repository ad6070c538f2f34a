-- 2: backlink verification
CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES runs(id),
    path TEXT NOT NULL,
    format TEXT NOT NULL,
    encoding TEXT,
    rows INTEGER NOT NULL DEFAULT 0,
    new INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    imported_at TEXT NOT NULL
);
CREATE TABLE import_errors (
    import_id INTEGER NOT NULL REFERENCES imports(id),
    line INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (import_id, line)
) WITHOUT ROWID;
CREATE TABLE backlinks (
    id INTEGER PRIMARY KEY,
    source_url TEXT NOT NULL,
    target_url TEXT NOT NULL,
    any_target INTEGER NOT NULL DEFAULT 0,
    target_site TEXT NOT NULL,
    source_host TEXT NOT NULL,
    source_domain TEXT NOT NULL,
    anchor TEXT,
    source_title TEXT,
    authority REAL,
    authority_metric TEXT,
    first_seen TEXT,
    last_seen TEXT,
    nofollow INTEGER,
    ugc INTEGER,
    sponsored INTEGER,
    lost_status TEXT,
    extra TEXT,
    source_format TEXT,
    first_imported_at TEXT NOT NULL,
    last_imported_at TEXT NOT NULL,
    UNIQUE (source_url, target_url)
);
CREATE TABLE backlink_imports (
    import_id INTEGER NOT NULL REFERENCES imports(id),
    backlink_id INTEGER NOT NULL REFERENCES backlinks(id),
    line INTEGER,
    PRIMARY KEY (import_id, backlink_id)
) WITHOUT ROWID;
CREATE TABLE backlink_checks (
    backlink_id INTEGER NOT NULL REFERENCES backlinks(id),
    run_id INTEGER NOT NULL REFERENCES runs(id),
    status TEXT NOT NULL,
    reason TEXT,
    outcome TEXT NOT NULL,
    http_status INTEGER,
    final_url TEXT,
    chain TEXT,
    hops INTEGER NOT NULL DEFAULT 0,
    link_found INTEGER NOT NULL,
    rendered INTEGER NOT NULL DEFAULT 0,
    linked_url TEXT,
    anchor_text TEXT,
    rel TEXT,
    nofollow INTEGER NOT NULL DEFAULT 0,
    noindex INTEGER NOT NULL DEFAULT 0,
    canonical_url TEXT,
    target_changed INTEGER NOT NULL DEFAULT 0,
    evidence TEXT,
    error TEXT,
    elapsed_ms INTEGER,
    checked_at TEXT NOT NULL,
    PRIMARY KEY (backlink_id, run_id)
) WITHOUT ROWID;
CREATE INDEX backlink_checks_run ON backlink_checks (run_id);
CREATE INDEX backlinks_target_site ON backlinks (target_site);
CREATE TABLE check_queue (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    source_url TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
