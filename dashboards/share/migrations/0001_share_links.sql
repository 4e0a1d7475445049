-- Read-only share links of the dashboards. Only a SHA-256 of the secret
-- token is stored. A revocation is a newer row (higher version) for the same
-- id; readers take the latest state with argMax, so the table never needs
-- ALTER ... UPDATE and works on every ClickHouse version.
CREATE TABLE IF NOT EXISTS share_links (
    id         String,
    token_hash String,
    site       String,
    label      String,
    created_at DateTime('UTC'),
    revoked    UInt8,
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, id);
