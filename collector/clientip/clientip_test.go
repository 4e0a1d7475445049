package clientip_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"tally/collector/clientip"
)

func TestParsePrefixes(t *testing.T) {
	f := func(csv string, want ...string) {
		t.Helper()
		got, err := clientip.ParsePrefixes(csv)
		if err != nil {
			t.Fatalf("ParsePrefixes(%q): %v", csv, err)
		}
		if len(want) == 0 {
			if got != nil {
				t.Fatalf("ParsePrefixes(%q) = %v, want nil", csv, got)
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("ParsePrefixes(%q) = %v, want %v", csv, got, want)
		}
		for i := range want {
			if got[i].String() != want[i] {
				t.Errorf("ParsePrefixes(%q)[%d] = %s, want %s", csv, i, got[i], want[i])
			}
		}
	}
	f("")
	f("   ")
	f("10.0.0.0/8", "10.0.0.0/8")
	f("10.0.0.0/8, ::1/128, 192.168.1.7", "10.0.0.0/8", "::1/128", "192.168.1.7/32")
	f("\t2001:db8::1 ,fd00::/8", "2001:db8::1/128", "fd00::/8")
	f("10.1.2.3/8", "10.0.0.0/8") // masked
	f("::ffff:10.0.0.0/104, ::ffff:192.0.2.1", "10.0.0.0/8", "192.0.2.1/32")
}

func TestParsePrefixesErrors(t *testing.T) {
	f := func(csv, wantInError string) {
		t.Helper()
		got, err := clientip.ParsePrefixes(csv)
		if err == nil {
			t.Fatalf("ParsePrefixes(%q) = %v, want error", csv, got)
		}
		if !strings.Contains(err.Error(), wantInError) {
			t.Errorf("ParsePrefixes(%q): error %q does not contain %q", csv, err, wantInError)
		}
	}
	f("10.0.0.0/8, nonsense", "item 2")
	f("10.0.0.0/33", "item 1")
	f("10.0.0.0/8,,::1", "item 2 is empty")
	f("10.0.0.0/8,", "item 2 is empty")
	f("fe80::1%eth0", "item 1")
	f("1.2.3.4:80", "item 1")
}

// resolveCase runs one Resolve and compares.
func resolveCase(t *testing.T, r *clientip.Resolver, peer, xff, xri, want string) {
	t.Helper()
	got, err := r.Resolve(netip.MustParseAddr(peer), xff, xri)
	if err != nil {
		t.Fatalf("Resolve(%s, %q, %q): %v", peer, xff, xri, err)
	}
	if got != netip.MustParseAddr(want) {
		t.Errorf("Resolve(%s, %q, %q) = %s, want %s", peer, xff, xri, got, want)
	}
}

func resolver(t *testing.T, csv string) *clientip.Resolver {
	t.Helper()
	p, err := clientip.ParsePrefixes(csv)
	if err != nil {
		t.Fatal(err)
	}
	return clientip.NewResolver(p)
}

func TestResolveNoProxiesConfigured(t *testing.T) {
	r := clientip.NewResolver(nil)
	f := func(peer, xff, xri, want string) { t.Helper(); resolveCase(t, r, peer, xff, xri, want) }
	f("198.51.100.7", "", "", "198.51.100.7")
	f("198.51.100.7", "203.0.113.9", "203.0.113.10", "198.51.100.7")
	f("127.0.0.1", "203.0.113.9", "", "127.0.0.1")
	f("::ffff:198.51.100.7", "", "", "198.51.100.7")
	f("fe80::1%eth0", "", "", "fe80::1")

	var nilResolver *clientip.Resolver
	resolveCase(t, nilResolver, "198.51.100.7", "203.0.113.9", "", "198.51.100.7")
}

func TestResolveTrustedChain(t *testing.T) {
	r := resolver(t, "10.0.0.0/8, 2001:db8:ffff::/48")
	f := func(peer, xff, xri, want string) { t.Helper(); resolveCase(t, r, peer, xff, xri, want) }

	// One proxy.
	f("10.0.0.1", "203.0.113.9", "", "203.0.113.9")
	// A chain of trusted proxies in front of the peer.
	f("10.0.0.1", "203.0.113.9, 10.0.0.7, 10.2.3.4", "", "203.0.113.9")
	// Several header lines joined by the HTTP library.
	f("10.0.0.1", "203.0.113.9, 10.0.0.7", "", "203.0.113.9")
	// Every hop trusted: the leftmost is the client.
	f("10.0.0.1", "10.9.9.9, 10.0.0.7", "", "10.9.9.9")
	// X-Forwarded-For wins over X-Real-IP.
	f("10.0.0.1", "203.0.113.9", "192.0.2.1", "203.0.113.9")
	// X-Real-IP when there is no X-Forwarded-For.
	f("10.0.0.1", "", "203.0.113.9", "203.0.113.9")
	f("10.0.0.1", "", " 203.0.113.9:4711 ", "203.0.113.9")
	// Neither: the peer.
	f("10.0.0.1", "", "", "10.0.0.1")
}

func TestResolveSpoofedLeftmostIgnored(t *testing.T) {
	r := resolver(t, "10.0.0.0/8")
	f := func(peer, xff, xri, want string) { t.Helper(); resolveCase(t, r, peer, xff, xri, want) }
	// The client sent "X-Forwarded-For: 1.1.1.1"; our proxy appended the
	// address it saw.
	f("10.0.0.1", "1.1.1.1, 203.0.113.9", "", "203.0.113.9")
	f("10.0.0.1", "1.1.1.1, 10.99.0.1, 203.0.113.9, 10.0.0.2", "", "203.0.113.9")
	// A forged trusted-looking address is left of the client too.
	f("10.0.0.1", "10.0.0.5, 203.0.113.9", "", "203.0.113.9")
	// Garbage the client put left of itself is never parsed.
	f("10.0.0.1", "<script>, not an ip, 203.0.113.9", "", "203.0.113.9")
	f("10.0.0.1", strings.Repeat("x", 100)+",203.0.113.9", "", "203.0.113.9")
}

func TestResolveUntrustedPeerIgnoresHeaders(t *testing.T) {
	r := resolver(t, "10.0.0.0/8")
	f := func(peer, xff, xri, want string) { t.Helper(); resolveCase(t, r, peer, xff, xri, want) }
	f("198.51.100.7", "203.0.113.9", "203.0.113.10", "198.51.100.7")
	f("198.51.100.7", "10.0.0.1", "", "198.51.100.7")
	// Even malformed or oversized headers do not matter.
	f("198.51.100.7", "garbage, ,:", "also garbage", "198.51.100.7")
	f("198.51.100.7", strings.Repeat("1", 10000), strings.Repeat("2", 10000), "198.51.100.7")
}

func TestResolveIPv6(t *testing.T) {
	r := resolver(t, "10.0.0.0/8, 2001:db8:ffff::/48, ::1")
	f := func(peer, xff, xri, want string) { t.Helper(); resolveCase(t, r, peer, xff, xri, want) }
	f("2001:db8:ffff::1", "2001:db8::42", "", "2001:db8::42")
	f("::1", "2001:db8::42, 2001:db8:ffff::9", "", "2001:db8::42")
	f("::1", "[2001:db8::42]:443", "", "2001:db8::42")
	f("::1", "[2001:db8::42]", "", "2001:db8::42")
	f("::1", "", "[2001:db8::42]:8080", "2001:db8::42")
	// Mixed families along the chain.
	f("10.0.0.1", "2001:db8::42, 10.0.0.3", "", "2001:db8::42")
	f("2001:db8:ffff::1", "203.0.113.9", "", "203.0.113.9")
	// An untrusted IPv6 peer.
	f("2001:db8::77", "203.0.113.9", "", "2001:db8::77")
}

func TestResolvePorts(t *testing.T) {
	r := resolver(t, "10.0.0.0/8")
	f := func(peer, xff, xri, want string) { t.Helper(); resolveCase(t, r, peer, xff, xri, want) }
	f("10.0.0.1", "203.0.113.9:5678", "", "203.0.113.9")
	f("10.0.0.1", "203.0.113.9:0, 10.0.0.2:65535", "", "203.0.113.9")
	f("10.0.0.1", "[2001:db8::1]:443, 10.0.0.2:80", "", "2001:db8::1")
}

func TestResolve4In6(t *testing.T) {
	r := resolver(t, "10.0.0.0/8")
	f := func(peer, xff, xri, want string) { t.Helper(); resolveCase(t, r, peer, xff, xri, want) }
	// A mapped peer is matched against IPv4 prefixes.
	f("::ffff:10.0.0.1", "203.0.113.9", "", "203.0.113.9")
	// Mapped entries are returned, and matched, as IPv4.
	f("10.0.0.1", "::ffff:203.0.113.9", "", "203.0.113.9")
	f("10.0.0.1", "[::ffff:203.0.113.9]:80", "", "203.0.113.9")
	f("10.0.0.1", "203.0.113.9, ::ffff:10.0.0.2", "", "203.0.113.9")
	f("10.0.0.1", "", "::ffff:203.0.113.9", "203.0.113.9")
	// An untrusted mapped peer comes back unmapped.
	f("::ffff:198.51.100.7", "203.0.113.9", "", "198.51.100.7")
	// Trusted prefixes written in mapped form work for IPv4 peers.
	r = resolver(t, "::ffff:10.0.0.0/104")
	resolveCase(t, r, "10.0.0.1", "203.0.113.9", "", "203.0.113.9")
}

func TestResolveWhitespaceAndEmptyElements(t *testing.T) {
	r := resolver(t, "10.0.0.0/8")
	f := func(peer, xff, xri, want string) { t.Helper(); resolveCase(t, r, peer, xff, xri, want) }
	f("10.0.0.1", "  203.0.113.9  ", "", "203.0.113.9")
	f("10.0.0.1", "203.0.113.9,10.0.0.2", "", "203.0.113.9")
	f("10.0.0.1", "\t203.0.113.9\t,\t10.0.0.2", "", "203.0.113.9")
	f("10.0.0.1", "203.0.113.9, , 10.0.0.2,", "", "203.0.113.9")
	f("10.0.0.1", ",,203.0.113.9,,", "", "203.0.113.9")
	// Only empty elements: as if there were no X-Forwarded-For.
	f("10.0.0.1", " , ,, ", "203.0.113.9", "203.0.113.9")
	f("10.0.0.1", " , ", "  ", "10.0.0.1")
}

func TestResolveGarbage(t *testing.T) {
	r := resolver(t, "10.0.0.0/8, 2001:db8:ffff::/48")
	f := func(xff, xri string) {
		t.Helper()
		got, err := r.Resolve(netip.MustParseAddr("10.0.0.1"), xff, xri)
		if err == nil {
			t.Fatalf("Resolve(%q, %q) = %s, want error", xff, xri, got)
		}
		if !errors.Is(err, clientip.ErrInvalidForwarded) {
			t.Errorf("Resolve(%q, %q): error %v does not wrap ErrInvalidForwarded", xff, xri, err)
		}
		if got.IsValid() {
			t.Errorf("Resolve(%q, %q) returned address %s with the error", xff, xri, got)
		}
		msg := err.Error()
		for _, part := range []string{xff, xri} {
			if len(part) >= 3 && strings.Contains(msg, part) {
				t.Errorf("error %q contains header value %q", msg, part)
			}
		}
		for _, elem := range strings.Split(xff+","+xri, ",") {
			if elem = strings.TrimSpace(elem); len(elem) >= 3 && strings.Contains(msg, elem) {
				t.Errorf("error %q contains header element %q", msg, elem)
			}
		}
	}
	f("unknown", "")
	f("203.0.113.9, garbage", "")
	f("203.0.113.9, 10.0.0.2, 10.0.0.3x", "")
	f("203.0.113.999", "")
	f("203.0.113.9:", "")
	f("203.0.113.9:99999", "")
	f("203.0.113.9:80:80", "")
	f("203.0.113.9:http", "")
	f("[203.0.113.9]:80", "")
	f("[2001:db8::1", "")
	f("[2001:db8::1]x", "")
	f("[2001:db8::1]:", "")
	f("2001:db8::1:80:", "")
	f("fe80::1%eth0", "")
	f("203.0.113.9\n", "")
	f("203.0.113.9 203.0.113.10", "")
	f("", "not-an-ip")
	f("", "203.0.113.9, 203.0.113.10")
	f(" , ", "[::1")
	f(strings.Repeat("203.0.113.9, ", 400), "")
	f("", strings.Repeat("9", clientip.MaxHeaderLen+1))
	// An X-Real-IP too long is an error even when X-Forwarded-For answers.
	f("203.0.113.9", strings.Repeat(" ", clientip.MaxHeaderLen+1))
}

func TestResolveErrorHidesAddress(t *testing.T) {
	r := resolver(t, "10.0.0.0/8")
	secret := "203.0.113.77"
	for _, tc := range []struct{ xff, xri string }{
		{secret + "x", ""},
		{secret + ", " + secret + ":99999", ""},
		{"", secret + "/24"},
		{"[" + secret + "]", ""},
	} {
		_, err := r.Resolve(netip.MustParseAddr("10.0.0.1"), tc.xff, tc.xri)
		if err == nil {
			t.Fatalf("Resolve(%q, %q): no error", tc.xff, tc.xri)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "203.0.113") {
			t.Errorf("error %q reveals the address", err)
		}
	}
}

func TestResolveInvalidPeer(t *testing.T) {
	r := resolver(t, "0.0.0.0/0, ::/0")
	got, err := r.Resolve(netip.Addr{}, "203.0.113.9", "")
	if err != nil || got.IsValid() {
		t.Errorf("Resolve(invalid peer) = %v, %v; want the invalid peer, nil", got, err)
	}
}

// TestResolveAllocations checks the common paths. (Rejecting a malformed
// entry may allocate: netip.ParseAddr builds an error, which is dropped.)
func TestResolveAllocations(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("allocation counts differ under -cover")
	}
	r := resolver(t, "10.0.0.0/8, 2001:db8:ffff::/48")
	peer := netip.MustParseAddr("10.0.0.1")
	for _, tc := range []struct{ xff, xri string }{
		{"1.1.1.1, 203.0.113.9:4711, 10.0.0.7, 10.2.3.4", ""},
		{"[2001:db8::42]:443, 2001:db8:ffff::9", ""},
		{"", "203.0.113.9"},
		{"", ""},
	} {
		if n := testing.AllocsPerRun(100, func() { _, _ = r.Resolve(peer, tc.xff, tc.xri) }); n != 0 {
			t.Errorf("Resolve(%q, %q): %v allocations", tc.xff, tc.xri, n)
		}
	}
}

func BenchmarkResolve(b *testing.B) {
	p, err := clientip.ParsePrefixes("10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fd00::/8")
	if err != nil {
		b.Fatal(err)
	}
	r := clientip.NewResolver(p)
	bench := func(name, peer, xff, xri string) {
		addr := netip.MustParseAddr(peer)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Resolve(addr, xff, xri); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	bench("untrusted-peer", "198.51.100.7", "203.0.113.9", "")
	bench("one-proxy", "10.0.0.1", "203.0.113.9", "")
	bench("chain", "10.0.0.1", "1.1.1.1, 203.0.113.9:4711, 172.16.0.7, 10.2.3.4", "")
	bench("ipv6", "fd00::1", "[2001:db8::42]:443, fd00::9", "")
	bench("x-real-ip", "10.0.0.1", "", "203.0.113.9")
}
