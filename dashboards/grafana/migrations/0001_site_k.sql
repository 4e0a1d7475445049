-- Each site's k as the Grafana views apply it (the shared k of the sites
-- file; count_hits = 1 where k counts hits, anonymous mode). The dashboards
-- write the whole list at start-up with one version; the views read only
-- the newest list, so a site removed from the sites file disappears from
-- Grafana too.
CREATE TABLE IF NOT EXISTS grafana_site_k (
    site       String,
    k          UInt32,
    count_hits UInt8,
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY site;
