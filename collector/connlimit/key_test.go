package connlimit

import (
	"net/netip"
	"testing"
)

func TestClientKeys(t *testing.T) {
	proxy := netip.MustParseAddr("10.0.0.1")
	l, err := New(Options{Max: 10, Exempt: func(a netip.Addr) bool { return a == proxy }})
	if err != nil {
		t.Fatal(err)
	}
	key := func(s string) uint64 { k, _ := l.clientKey(netip.MustParseAddr(s)); return k }
	// One host holds a whole /64: every address in it is one client.
	if key("2001:db8:1:2::1") != key("2001:db8:1:2:ffff:ffff:ffff:ffff") {
		t.Error("two addresses of one /64 are different clients")
	}
	if key("2001:db8:1:2::1") == key("2001:db8:1:3::1") {
		t.Error("two /64s are one client")
	}
	if key("192.0.2.1") == key("192.0.2.2") || key("192.0.2.1") != key("::ffff:192.0.2.1") {
		t.Error("IPv4 clients are not told apart by address")
	}
	if _, exempt := l.clientKey(proxy); !exempt {
		t.Error("a trusted proxy is capped")
	}
}
