-- Revenue of conversions (issue 13): the amount of a revenue row's
-- conversions in micro-units of the currency its value names (1 EUR =
-- 1,000,000), so that sums are exact and no currency is converted. One
-- ALTER as 0003; old rows read as 0.
ALTER TABLE web_counters
    ADD COLUMN revenue Int64 DEFAULT 0;
