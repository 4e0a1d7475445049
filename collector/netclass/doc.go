// Package netclass owns the data-centre layer of bot filtering: whether a
// client address belongs to a server network (a cloud or hosting
// provider) rather than to a person's connection.
//
// The address is looked up during the request and never kept: Contains
// takes a netip.Addr by value, reads an immutable table and returns a
// bool; nothing here stores, logs or counts an address, and no error
// message quotes one (a bad line of a range file is named by its number).
//
// Ranges come from two places, merged into one sorted table:
//
//   - the embedded default, data/hosting-ranges.csv.gz: every range of the
//     hosting networks listed (with the reasons for what is left out) in
//     data/hosting-asns.txt, taken from the npm package @ip-location-db/asn
//     2.3.2026061719 (CC BY 4.0: RouteViews, the RIRs via NRO, DB-IP;
//     attribution in data/ATTRIBUTION). update.sh regenerates it. An
//     operator can point Options.ASNFiles at a newer asn-ipv4.csv /
//     asn-ipv6.csv of that package instead; only the listed networks are
//     kept from it.
//   - operator CIDR files (Options.CIDRFiles): one CIDR or address a line,
//     "#" comments, as cloud providers publish their ranges.
//
// Reload re-reads every file (on SIGHUP). It builds the new table aside and
// swaps it in only when every file parsed: on any error the previous table
// stays in use and the error names the file and line.
//
// A lookup is a binary search over about 12,000 merged ranges: about 25 ns,
// no allocation (BenchmarkContains).
package netclass
