-- Web counters: one row per (site, hour, dimension, value). Dimensions are
-- separate rows, never a cross product, so no row narrows down to a person.
-- Partitioned by month so that retention is a DROP PARTITION.
CREATE TABLE IF NOT EXISTS web_counters (
    site      String,
    hour      DateTime('UTC'),
    dimension String,
    value     String,
    hits      Int64,
    pageviews Int64,
    visitors  Int64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site, dimension, hour, value);

-- Email counters: one row per (site, campaign, hour, dimension, value).
CREATE TABLE IF NOT EXISTS email_counters (
    site          String,
    campaign      String,
    hour          DateTime('UTC'),
    dimension     String,
    value         String,
    sent          Int64,
    opens         Int64,
    unique_opens  Int64,
    machine_opens Int64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site, campaign, dimension, hour, value);
