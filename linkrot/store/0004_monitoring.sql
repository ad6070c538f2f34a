-- 4: monitoring over time
ALTER TABLE backlink_checks ADD COLUMN anchor_class TEXT;
ALTER TABLE backlink_checks ADD COLUMN mentions_site INTEGER NOT NULL DEFAULT 0;
ALTER TABLE backlink_checks ADD COLUMN rechecked INTEGER NOT NULL DEFAULT 0;
CREATE TABLE backlink_state (
    backlink_id INTEGER PRIMARY KEY REFERENCES backlinks(id),
    standing INTEGER,
    status TEXT,
    nofollow INTEGER,
    anchor_text TEXT,
    linked_url TEXT,
    pending_since TEXT,
    pending_checks INTEGER NOT NULL DEFAULT 0,
    noise INTEGER NOT NULL DEFAULT 0,
    run_id INTEGER,
    updated_at TEXT NOT NULL
);
CREATE TABLE backlink_events (
    id INTEGER PRIMARY KEY,
    backlink_id INTEGER NOT NULL REFERENCES backlinks(id),
    run_id INTEGER NOT NULL REFERENCES runs(id),
    change TEXT NOT NULL,
    previous_status TEXT,
    status TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    confirmed INTEGER NOT NULL DEFAULT 1,
    confirmed_at TEXT,
    confirmed_run_id INTEGER,
    cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX backlink_events_backlink ON backlink_events (backlink_id, change);
CREATE INDEX backlink_events_confirmed ON backlink_events (confirmed_run_id);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES runs(id),
    channel TEXT NOT NULL,
    alerts INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    detail TEXT,
    sent_at TEXT NOT NULL
);
CREATE TABLE wayback (
    url TEXT PRIMARY KEY,
    archived INTEGER NOT NULL,
    snapshot_url TEXT,
    snapshot_at TEXT,
    checked_at TEXT NOT NULL
);
