-- 8: big crawls: a run stopped by a limit says so in its row
-- stopped_by: the limits that refused pages, "max_pages=50000" (comma separated when several)
-- not_crawled: URLs of the site found and never fetched because of them (counted when the run ends)
ALTER TABLE runs ADD COLUMN stopped_by TEXT;
ALTER TABLE runs ADD COLUMN not_crawled INTEGER;
