package netclass

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustNew(t testing.TB, opts Options) *Classifier {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestCIDRFile(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "ranges.txt", `# a provider's published ranges
198.51.100.0/24
203.0.113.7        # one host
2001:db8:1::/48
192.0.2.128/25     # overlaps the next line: merged
192.0.2.0/25

`)
	c := mustNew(t, Options{CIDRFiles: []string{p}, NoDefault: true})
	f := func(ip string, want bool) {
		t.Helper()
		if got := c.Contains(addr(ip)); got != want {
			t.Errorf("Contains(%s) = %v, want %v", ip, got, want)
		}
	}
	f("198.51.100.0", true)
	f("198.51.100.255", true)
	f("198.51.101.0", false)
	f("198.51.99.255", false)
	f("203.0.113.7", true)
	f("203.0.113.8", false)
	f("::ffff:198.51.100.9", true) // IPv4-mapped, as a dual-stack listener reports it
	f("2001:db8:1:ffff::1", true)
	f("2001:db8:2::1", false)
	f("192.0.2.0", true)
	f("192.0.2.255", true)
	if v4, v6 := c.Len(); v4 != 3 || v6 != 1 {
		t.Errorf("Len() = %d, %d; want 3 merged IPv4 ranges and 1 IPv6", v4, v6)
	}
}

func TestZeroAddr(t *testing.T) {
	c := mustNew(t, Options{})
	if c.Contains(netip.Addr{}) {
		t.Error("the zero Addr is in a data centre")
	}
}

func TestEmbeddedDefault(t *testing.T) {
	c := mustNew(t, Options{})
	v4, v6 := c.Len()
	if v4 < 1000 || v6 < 100 {
		t.Fatalf("embedded default has %d IPv4 and %d IPv6 ranges, want thousands", v4, v6)
	}
	t.Logf("embedded default: %d IPv4, %d IPv6 merged ranges", v4, v6)
	// Every range end of the embedded file is inside; documentation and
	// private addresses, and a residential ISP's, are not.
	tab := c.table.Load()
	for _, r := range tab.v4[:50] {
		for _, x := range []uint32{r.lo, r.hi} {
			ip := netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
			if !c.Contains(ip) {
				t.Errorf("Contains(%s) = false for an end of an embedded range", ip)
			}
		}
	}
	for _, ip := range []string{"192.0.2.1", "10.1.2.3", "127.0.0.1", "2001:db8::1", "fe80::1"} {
		if c.Contains(addr(ip)) {
			t.Errorf("Contains(%s) = true", ip)
		}
	}
}

func TestHostingASNsDocumented(t *testing.T) {
	hosts, err := HostingASNs()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]bool{}
	for _, h := range hosts {
		if h.Name == "" || seen[h.ASN] {
			t.Errorf("hosting-asns.txt: AS%d has no name or is listed twice", h.ASN)
		}
		seen[h.ASN] = true
	}
	for _, asn := range []uint32{16509, 396982, 8075, 14061, 24940, 16276} {
		if !seen[asn] {
			t.Errorf("AS%d (a major cloud) is missing from hosting-asns.txt", asn)
		}
	}
	for _, asn := range []uint32{13335, 20940, 54113, 15169} { // people browse from these
		if seen[asn] {
			t.Errorf("AS%d carries people's traffic (WARP, Private Relay, Google proxies) and must not be listed", asn)
		}
	}
}

func TestASNFileKeepsHostingRowsOnly(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "asn-ipv4.csv", `1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."
3.0.0.0,3.0.255.255,16509,Amazon.com
5.0.0.0,5.0.0.255,3320,Deutsche Telekom AG
2600:1f00::,2600:1fff:ffff:ffff:ffff:ffff:ffff:ffff,16509,Amazon.com
`)
	c := mustNew(t, Options{ASNFiles: []string{p}})
	for ip, want := range map[string]bool{"3.0.1.2": true, "1.0.0.1": false, "5.0.0.1": false, "2600:1f18::1": true} {
		if got := c.Contains(addr(ip)); got != want {
			t.Errorf("Contains(%s) = %v, want %v", ip, got, want)
		}
	}
}

// TestBadFiles: a bad line is refused with its file and number, and the
// error never quotes the line (it may hold an address).
func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	f := func(name, body, wantLine string) {
		t.Helper()
		p := writeFile(t, dir, name, body)
		opts := Options{CIDRFiles: []string{p}, NoDefault: true}
		if strings.HasSuffix(name, ".csv") {
			opts = Options{ASNFiles: []string{p}}
		}
		_, err := New(opts)
		if err == nil {
			t.Fatalf("%s: New accepted %q", name, body)
		}
		msg := err.Error()
		if !strings.Contains(msg, p) || !strings.Contains(msg, wantLine) {
			t.Errorf("%s: error %q does not name the file and %q", name, msg, wantLine)
		}
		for _, line := range strings.Split(body, "\n") {
			if line = strings.TrimSpace(line); len(line) > 3 && strings.Contains(msg, line) {
				t.Errorf("%s: error %q quotes the line %q", name, msg, line)
			}
		}
	}
	f("garbage.txt", "198.51.100.0/24\nthis is not a range\n", "line 2:")
	f("badbits.txt", "# ok\n\n198.51.100.0/33\n", "line 3:")
	f("badaddr.txt", "300.1.2.3\n", "line 1:")
	f("zone.txt", "fe80::1%eth0\n", "line 1:")
	f("binary.txt", "\x00\xff\xfe\x01\n", "line 1:")
	f("huge.txt", strings.Repeat("9", 100000)+"\n", "line 1:")
	f("fields.csv", "1.0.0.0,1.0.0.255\n", "line 1:")
	f("asn.csv", "1.0.0.0,1.0.0.255,AS16509,x\n", "line 1:")
	f("order.csv", "3.0.0.9,3.0.0.1,16509,x\n", "line 1:")
	f("mixed.csv", "3.0.0.1,2600::1,16509,x\n", "line 1:")

	if _, err := New(Options{CIDRFiles: []string{filepath.Join(dir, "missing.txt")}}); err == nil {
		t.Error("New accepted a missing file")
	}
}

// TestReloadKeepsPreviousOnError: a failed reload leaves the previous
// table in use; a good one replaces it.
func TestReloadKeepsPreviousOnError(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "ranges.txt", "198.51.100.0/24\n")
	c := mustNew(t, Options{CIDRFiles: []string{p}, NoDefault: true})

	writeFile(t, dir, "ranges.txt", "203.0.113.0/24\n203.0.113.999\n")
	err := c.Reload()
	if err == nil || !strings.Contains(err.Error(), "line 2:") {
		t.Fatalf("Reload with a bad line: %v", err)
	}
	if !c.Contains(addr("198.51.100.1")) || c.Contains(addr("203.0.113.1")) {
		t.Error("a failed reload changed the table in use")
	}

	writeFile(t, dir, "ranges.txt", "203.0.113.0/24\n")
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if c.Contains(addr("198.51.100.1")) || !c.Contains(addr("203.0.113.1")) {
		t.Error("a good reload did not replace the table")
	}
}

func TestConcurrentReload(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "ranges.txt", "198.51.100.0/24\n")
	c := mustNew(t, Options{CIDRFiles: []string{p}})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2000 {
				if !c.Contains(addr("198.51.100.7")) {
					t.Error("lookup missed during reload")
					return
				}
			}
		})
	}
	for range 3 {
		if err := c.Reload(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}

func BenchmarkContains(b *testing.B) {
	c := mustNew(b, Options{})
	ips := []netip.Addr{addr("3.5.140.2"), addr("81.2.69.160"), addr("2600:1f18::1"), addr("2a02:8108::1")}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Contains(ips[i%len(ips)])
		i++
	}
}
