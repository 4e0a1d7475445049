package clientip_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"tally/collector/clientip"
)

// FuzzResolve checks that Resolve never panics, that the result is unmapped
// and zone-free, and that an error's text is one of a fixed set, so it can
// never carry the headers it complains about.
func FuzzResolve(f *testing.F) {
	for _, seed := range []struct {
		peer, xff, xri string
	}{
		{"10.0.0.1", "203.0.113.9", ""},
		{"10.0.0.1", "1.1.1.1, 203.0.113.9:4711, 10.0.0.7", ""},
		{"10.0.0.1", "[2001:db8::1]:443, ::ffff:10.0.0.2", ""},
		{"10.0.0.1", "", "203.0.113.9"},
		{"10.0.0.1", " , ,", "[::1]:80"},
		{"10.0.0.1", "garbage", ""},
		{"198.51.100.7", "garbage", "garbage"},
		{"::ffff:10.0.0.1", "fe80::1%eth0", ""},
		{"2001:db8:ffff::1", "2001:db8::1:80:", ""},
	} {
		f.Add(seed.peer, seed.xff, seed.xri)
	}
	r := clientip.NewResolver([]netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("2001:db8:ffff::/48"),
	})
	// The only texts an error may have. Any error built from the input
	// would not be in this set.
	allowed := map[string]bool{}
	for _, xff := range []string{"x", strings.Repeat("1", clientip.MaxHeaderLen+1)} {
		for _, xri := range []string{"", "x", strings.Repeat("1", clientip.MaxHeaderLen+1)} {
			if _, err := r.Resolve(netip.MustParseAddr("10.0.0.1"), xff, xri); err != nil {
				allowed[err.Error()] = true
			}
		}
	}
	if _, err := r.Resolve(netip.MustParseAddr("10.0.0.1"), "", "x"); err != nil {
		allowed[err.Error()] = true
	}
	if len(allowed) != 4 {
		f.Fatalf("expected 4 distinct error texts, got %v", allowed)
	}

	f.Fuzz(func(t *testing.T, peerText, xff, xri string) {
		peer, _ := netip.ParseAddr(peerText)
		got, err := r.Resolve(peer, xff, xri)
		if err != nil {
			msg := err.Error()
			if !errors.Is(err, clientip.ErrInvalidForwarded) {
				t.Fatalf("error %q does not wrap ErrInvalidForwarded", msg)
			}
			if !allowed[msg] {
				t.Fatalf("unexpected error text %q", msg)
			}
			for _, in := range []string{xff, xri, strings.TrimSpace(xff), strings.TrimSpace(xri)} {
				// Short inputs can be substrings of any fixed text by chance.
				if len(in) >= 8 && strings.Contains(msg, in) {
					t.Fatalf("error %q contains input %q", msg, in)
				}
			}
			if got.IsValid() {
				t.Fatalf("address %s returned with error", got)
			}
			return
		}
		if got.Is4In6() || got.Zone() != "" {
			t.Fatalf("result %s is mapped or has a zone", got)
		}
		if peer.IsValid() && !got.IsValid() {
			t.Fatalf("no address for a valid peer")
		}
	})
}
