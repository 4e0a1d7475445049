#!/bin/sh
# size.sh prints the tracker's size: as the collector serves it, gzipped,
# and minified and gzipped (esbuild --minify, gzip -9), next to the official
# Plausible tracker's (npm @plausible-analytics/tracker) measured the same
# way. The README quotes its output.
#
# It needs npx and npm (Node.js) and fetches pinned versions of esbuild and
# of Plausible's package into a temporary directory. Nothing here is a
# build step: the collector serves collector/static/script.js as it is.
set -eu
ESBUILD=esbuild@0.24.0
PLAUSIBLE=@plausible-analytics/tracker@0.4.6
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

npm install --silent --no-audit --no-fund --prefix "$tmp" "$ESBUILD" "$PLAUSIBLE" >/dev/null
esbuild="$tmp/node_modules/.bin/esbuild"

report() { # name file
	raw=$(wc -c <"$2")
	gz=$(gzip -9 <"$2" | wc -c)
	min=$("$esbuild" --minify --log-level=warning "$2" | wc -c)
	mingz=$("$esbuild" --minify --log-level=warning "$2" | gzip -9 | wc -c)
	printf '%-40s %6d bytes, gzipped %5d; minified %5d, minified+gzipped %5d\n' "$1" "$raw" "$gz" "$min" "$mingz"
}
report "tally collector/static/script.js" "$root/collector/static/script.js"
report "Plausible $PLAUSIBLE" "$tmp/node_modules/@plausible-analytics/tracker/plausible.js"
