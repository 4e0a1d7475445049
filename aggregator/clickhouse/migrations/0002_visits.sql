-- Visits and engagement, counted without identifiers (collector/visits).
-- One statement per column and no IF NOT EXISTS (18.16 has none for
-- columns): a column that is already there counts as added (chmigrate.Exec),
-- so a migration cut short runs again. SummingMergeTree sums every numeric
-- column outside the sort key, these included; old rows read as 0.
ALTER TABLE web_counters ADD COLUMN visits Int64 DEFAULT 0;
ALTER TABLE web_counters ADD COLUMN tracked_visits Int64 DEFAULT 0;
ALTER TABLE web_counters ADD COLUMN bounces Int64 DEFAULT 0;
ALTER TABLE web_counters ADD COLUMN exits Int64 DEFAULT 0;
ALTER TABLE web_counters ADD COLUMN engaged_ms Int64 DEFAULT 0;
ALTER TABLE web_counters ADD COLUMN engaged_views Int64 DEFAULT 0;
ALTER TABLE web_counters ADD COLUMN scroll_sum Int64 DEFAULT 0;
ALTER TABLE web_counters ADD COLUMN scroll_views Int64 DEFAULT 0;
