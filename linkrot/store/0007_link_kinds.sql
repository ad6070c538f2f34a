-- 7: every kind of link (img, script, stylesheet, frame, ...), fragments, malformed hrefs
ALTER TABLE links ADD COLUMN kind TEXT NOT NULL DEFAULT 'a';
ALTER TABLE urls ADD COLUMN is_resource INTEGER NOT NULL DEFAULT 0;
CREATE TABLE link_fragments (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    source_url TEXT NOT NULL,
    target_url TEXT NOT NULL,
    fragment TEXT NOT NULL,
    PRIMARY KEY (run_id, source_url, target_url, fragment)
) WITHOUT ROWID;
CREATE TABLE page_anchors (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    url TEXT NOT NULL,
    ids TEXT NOT NULL,
    PRIMARY KEY (run_id, url)
) WITHOUT ROWID;
