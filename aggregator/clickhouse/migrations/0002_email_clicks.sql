-- Email clicks (issue 14): clicks and unique clicks by people, machine
-- clicks, and opens implied by a click. One ALTER, so that the columns
-- arrive together; ADD COLUMN IF NOT EXISTS is not in 18.16, so a column
-- that is already there (a start interrupted after this statement, or two
-- collectors starting at once) is taken for done by chmigrate.Exec.
ALTER TABLE email_counters
    ADD COLUMN clicks Int64 DEFAULT 0,
    ADD COLUMN unique_clicks Int64 DEFAULT 0,
    ADD COLUMN machine_clicks Int64 DEFAULT 0,
    ADD COLUMN implied_opens Int64 DEFAULT 0;
