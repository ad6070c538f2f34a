-- 6: vendor exports as downloaded: every anchor listed, the vendor's redirect chain, toxic score
ALTER TABLE backlinks ADD COLUMN anchors TEXT;
ALTER TABLE backlinks ADD COLUMN vendor_chain TEXT;
ALTER TABLE backlinks ADD COLUMN toxic_score REAL;
ALTER TABLE backlinks ADD COLUMN last_import_id INTEGER;
