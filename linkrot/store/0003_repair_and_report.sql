-- 3: repair and report
ALTER TABLE urls ADD COLUMN h1 TEXT;
CREATE TABLE redirect_suggestions (
    url TEXT PRIMARY KEY,
    suggested_target TEXT,
    confidence REAL NOT NULL DEFAULT 0,
    reason TEXT,
    is_home INTEGER NOT NULL DEFAULT 0,
    origin TEXT NOT NULL DEFAULT 'auto',
    site_run_id INTEGER,
    computed_at TEXT NOT NULL
);
CREATE TABLE domain_marks (
    domain TEXT PRIMARY KEY,
    mark TEXT NOT NULL,
    comment TEXT,
    marked_at TEXT NOT NULL
);
