-- Goals the admin adds and deletes from the dashboard (goals declared in
-- the sites file are not stored). A deletion is a newer row (higher
-- version) for the same (site, name); readers take the latest state with
-- argMax, so the table never needs ALTER ... UPDATE.
CREATE TABLE IF NOT EXISTS goals (
    site       String,
    name       String,
    event      String,
    path       String,
    created_at DateTime('UTC'),
    deleted    UInt8,
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, name);
