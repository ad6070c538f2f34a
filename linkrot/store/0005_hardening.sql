-- 5: hardening
CREATE TABLE traps (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    pattern TEXT NOT NULL,
    reason TEXT NOT NULL,
    example TEXT,
    PRIMARY KEY (run_id, pattern)
) WITHOUT ROWID;
