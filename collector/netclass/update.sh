#!/usr/bin/env bash
# Regenerates data/hosting-ranges.csv.gz, the embedded default ranges of the
# hosting networks in data/hosting-asns.txt, from the npm package
# @ip-location-db/asn (CC BY 4.0: RouteViews, the five RIRs via NRO, DB-IP).
# Review the diff and update the version in doc.go before committing.
set -euo pipefail
VERSION=2.3.2026061719
dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@ip-location-db/asn@$VERSION" >/dev/null && tar -xzf ./*.tgz)
asns=$(sed 's/#.*//' "$dir/data/hosting-asns.txt" | awk 'NF { print $1 }' | paste -sd, -)
{
	echo "# @ip-location-db/asn $VERSION (CC BY 4.0), networks of data/hosting-asns.txt: first,last,asn"
	cat "$tmp/package/asn-ipv4.csv" "$tmp/package/asn-ipv6.csv" |
		awk -F, -v asns="$asns" 'BEGIN { n = split(asns, a, ","); for (i = 1; i <= n; i++) keep[a[i]] = 1 }
			keep[$3] { print $1 "," $2 "," $3 }'
} | gzip -9n >"$dir/data/hosting-ranges.csv.gz"
echo "data/hosting-ranges.csv.gz: $(gzip -dc "$dir/data/hosting-ranges.csv.gz" | wc -l) lines"
