-- Admin sessions ended by signing out, so that a copied cookie stops
-- working on every replica and after a restart. Only the random session id
-- and its expiry are kept: no user, no address. Rows past their expiry are
-- ignored (ClickHouse 18.16 has no table TTL).
CREATE TABLE IF NOT EXISTS revoked_sessions (
    id      String,
    expires DateTime('UTC')
) ENGINE = ReplacingMergeTree
ORDER BY id;
