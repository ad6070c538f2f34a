-- 9: one crawl shared by workers on several machines (docs/scale-out.md)
-- shared_token: a random token the first worker publishes in Redis beside the run id; a worker whose
-- database holds the run with this token writes to it, any other sends its results through Redis
ALTER TABLE runs ADD COLUMN shared_token TEXT;
