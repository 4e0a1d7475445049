-- The dashboards' noise key: 32 random bytes (hex) that seed the noise on
-- every output but the admin's own view. The oldest row wins, so replicas
-- that start together agree. Only the collector's user may read it: the
-- Grafana user is granted its views, never this table.
CREATE TABLE IF NOT EXISTS noise_key (
    key     String,
    created DateTime('UTC')
) ENGINE = MergeTree
ORDER BY created;
