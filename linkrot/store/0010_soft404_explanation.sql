-- 10: soft 404s say why in words ("its main content is 97% the same as the site's 404 page")
ALTER TABLE urls ADD COLUMN soft_404_explanation TEXT;
