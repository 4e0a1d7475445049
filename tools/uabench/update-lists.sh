#!/usr/bin/env bash
# Regenerates collector/useragent's embedded bot lists (lists/) and its
# accuracy fixtures (testdata/) from the published packages, at the versions
# pinned below. Needs go, npm and node; reads only the Go module proxy and
# the npm registry. Review the diff, then run
#   go test ./collector/useragent/ && tools/uabench/run.sh
# before committing: a new list version can move the accuracy figures.
set -euo pipefail

CRAWLERDETECT=v0.2.30        # Go module github.com/x-way/crawlerdetect (MIT)
ISBOT=5.2.3                  # npm isbot (Unlicense)
CRAWLER_USER_AGENTS=1.60.0   # npm crawler-user-agents (MIT)
TOP_USER_AGENTS=2.1.138      # npm top-user-agents (MIT)
# npm user-agents (BSD-2-Clause): each release is one day of real browser
# traffic; the union of several days is the large real-browser sample.
USER_AGENTS="1.0.1074 1.1.455 1.1.671 2.1.88 2.1.144 2.1.198"

root=$(cd "$(dirname "$0")/../.." && pwd)
lists=$root/collector/useragent/lists
fixtures=$root/collector/useragent/testdata
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

unpack() { # unpack NAME@VERSION DIR
	(cd "$tmp" && npm pack --silent "$1" >/dev/null)
	mkdir -p "$tmp/$2"
	tar -xzf "$tmp"/*.tgz -C "$tmp/$2"
	rm "$tmp"/*.tgz
}

# CrawlerDetect: the Go port keeps its lists as Go string slices, one raw
# pattern per line between backquotes.
dir=$(cd "$root" && GOFLAGS=-mod=mod go mod download -json "github.com/x-way/crawlerdetect@$CRAWLERDETECT" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')
for name in crawlers exclusions; do
	sed -n 's/^\t`\(.*\)`,$/\1/p' "$dir/$name.go" >"$lists/crawlerdetect-$name.txt"
done
cp "$dir/LICENSE" "$lists/LICENSE-crawlerdetect"
chmod 644 "$lists/LICENSE-crawlerdetect"
cp "$dir/testdata/crawlers.txt" "$fixtures/crawlerdetect-$CRAWLERDETECT-crawlers.txt"
chmod 644 "$fixtures/crawlerdetect-$CRAWLERDETECT-crawlers.txt"

unpack "isbot@$ISBOT" isbot
node -e '
const {list} = require(process.argv[1]);
console.log(list.join("\n"));' "$tmp/isbot/package/index.js" >"$lists/isbot-patterns.txt"

unpack "crawler-user-agents@$CRAWLER_USER_AGENTS" cua
cp "$tmp/cua/package/LICENSE" "$lists/LICENSE-crawler-user-agents"
node -e '
const d = require(process.argv[1]);
const fs = require("fs");
// lists: tags TAB pattern; fixtures: every published instance.
fs.writeFileSync(process.argv[2], d.map(c => (c.tags || []).join(",") + "\t" + c.pattern).join("\n") + "\n");
fs.writeFileSync(process.argv[3], d.flatMap(c => c.instances || []).join("\n") + "\n");
' "$tmp/cua/package/crawler-user-agents.json" "$lists/crawler-user-agents.txt" \
	"$fixtures/crawler-user-agents-$CRAWLER_USER_AGENTS-instances.txt"

unpack "top-user-agents@$TOP_USER_AGENTS" top
node -e 'console.log(require(process.argv[1]).join("\n"))' "$tmp/top/package/src/index.json" \
	>"$fixtures/top-user-agents-$TOP_USER_AGENTS.txt"

# user-agents: union of the days, "weight TAB agent", weight summed over
# the days (each day's weights add up to 1).
for v in $USER_AGENTS; do
	unpack "user-agents@$v" "ua-$v"
done
TMP=$tmp node -e '
const fs = require("fs"), zlib = require("zlib");
const w = new Map();
for (const v of process.argv.slice(1)) {
  const dir = process.env.TMP + "/ua-" + v + "/package/";
  const f = fs.existsSync(dir + "dist/user-agents.json") ? dir + "dist/user-agents.json" : dir + "src/user-agents.json.gz";
  let buf = fs.readFileSync(f);
  if (f.endsWith(".gz")) buf = zlib.gunzipSync(buf);
  for (const p of JSON.parse(buf)) w.set(p.userAgent, (w.get(p.userAgent) || 0) + (p.weight || 0));
}
const lines = [...w].sort((a, b) => b[1] - a[1]).map(([ua, x]) => x.toExponential(6) + "\t" + ua);
process.stdout.write("# npm user-agents " + process.argv.slice(1).join(" ") + ": weight<TAB>user agent\n" + lines.join("\n") + "\n");
' $USER_AGENTS | gzip -9n >"$fixtures/user-agents-sample.txt.gz"

# isbot's own verdicts on every fixture header, from its JavaScript, so
# that TestIsbotAgrees can check the translation of its lookarounds.
(cat "$fixtures/crawler-user-agents-$CRAWLER_USER_AGENTS-instances.txt" \
	"$fixtures/crawlerdetect-$CRAWLERDETECT-crawlers.txt" \
	"$fixtures/top-user-agents-$TOP_USER_AGENTS.txt"
	gzip -dc "$fixtures/user-agents-sample.txt.gz" | grep -v '^#' | cut -f2-) |
	node -e '
const {isbot} = require(process.argv[1]);
let s = "";
process.stdin.on("data", d => s += d).on("end", () => {
  const seen = new Set();
  for (const l of s.split("\n")) if (l !== "" && isbot(l)) seen.add(l);
  process.stdout.write("# npm isbot " + process.argv[2] + ": the fixture headers it flags\n" + [...seen].join("\n") + "\n");
});' "$tmp/isbot/package/index.js" "$ISBOT" >"$fixtures/isbot-$ISBOT-flagged.txt"

echo "lists and fixtures regenerated; see git diff --stat"
