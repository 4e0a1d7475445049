// Runs SQL statements on chDB (current ClickHouse, in process) for
// chdb_test.go: reads a JSON array of statements on stdin, runs them in
// order in one session, and prints one JSON line per statement with its
// output (JSONEachRow) or its error.
const { Session } = require("chdb");
const fs = require("fs");
const os = require("os");
const path = require("path");

const statements = JSON.parse(fs.readFileSync(0, "utf8"));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tally-chdb-"));
const session = new Session(dir);
try {
  for (const sql of statements) {
    try {
      const out = session.query(sql, "JSONEachRow");
      process.stdout.write(JSON.stringify({ out: String(out || "") }) + "\n");
    } catch (e) {
      process.stdout.write(JSON.stringify({ err: String(e && e.message ? e.message : e) }) + "\n");
    }
  }
} finally {
  session.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
