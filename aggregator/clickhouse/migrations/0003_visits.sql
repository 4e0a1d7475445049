-- Visits and engagement (issue 11), counted without identifiers: see
-- collector/ingest/doc.go. One ALTER, so that the columns arrive together;
-- ADD COLUMN IF NOT EXISTS is not in 18.16, so a column that is already
-- there is taken for done by chmigrate.Exec. SummingMergeTree sums every
-- numeric column outside the sort key, these included; old rows read as 0.
ALTER TABLE web_counters
    ADD COLUMN visits Int64 DEFAULT 0,
    ADD COLUMN tracked_visits Int64 DEFAULT 0,
    ADD COLUMN bounces Int64 DEFAULT 0,
    ADD COLUMN exits Int64 DEFAULT 0,
    ADD COLUMN engaged_ms Int64 DEFAULT 0,
    ADD COLUMN engaged_views Int64 DEFAULT 0,
    ADD COLUMN scroll_sum Int64 DEFAULT 0,
    ADD COLUMN scroll_views Int64 DEFAULT 0;
