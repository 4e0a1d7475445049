-- An optional expiry per link (1970-01-01: never), set when it is made.
ALTER TABLE share_links ADD COLUMN expires_at DateTime('UTC') DEFAULT toDateTime(0);
