package clientip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrInvalidForwarded is returned, possibly wrapped, when a forwarded header
// from a trusted proxy holds something other than an address where Resolve
// needs one, or is too long. Its text never contains the header value.
var ErrInvalidForwarded = errors.New("invalid client address in forwarded header")

// MaxHeaderLen is the longest X-Forwarded-For or X-Real-IP value that Resolve
// accepts from a trusted proxy.
const MaxHeaderLen = 4096

// The errors of Resolve are built once: their text is fixed, so it cannot
// carry anything from the request, and returning them costs nothing.
var (
	errForwardedFor        = fmt.Errorf("%w: malformed address in X-Forwarded-For", ErrInvalidForwarded)
	errForwardedForTooLong = fmt.Errorf("%w: X-Forwarded-For longer than %d bytes", ErrInvalidForwarded, MaxHeaderLen)
	errRealIP              = fmt.Errorf("%w: malformed address in X-Real-IP", ErrInvalidForwarded)
	errRealIPTooLong       = fmt.Errorf("%w: X-Real-IP longer than %d bytes", ErrInvalidForwarded, MaxHeaderLen)
)

// ParsePrefixes parses a comma-separated list of trusted proxy networks, such
// as "10.0.0.0/8, ::1/128, 192.168.1.7". A bare address stands for itself
// (/32 or /128). IPv4-mapped IPv6 entries are turned into IPv4 ones. An empty
// or blank list gives nil; an empty item in a list is an error. Errors name
// the position of the bad item (counting from 1) and quote it: this is
// configuration, not client data.
func ParsePrefixes(csv string) ([]netip.Prefix, error) {
	if strings.TrimSpace(csv) == "" {
		return nil, nil
	}
	var prefixes []netip.Prefix
	for i, item := range strings.Split(csv, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("cannot parse trusted proxies: item %d is empty", i+1)
		}
		p, err := parsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("cannot parse trusted proxies: item %d (%q): %w", i+1, item, err)
		}
		prefixes = append(prefixes, p)
	}
	return prefixes, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return normalizePrefix(p), nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if addr.Zone() != "" {
		return netip.Prefix{}, errors.New("an address with a zone cannot be a trusted proxy")
	}
	return normalizePrefix(netip.PrefixFrom(addr, addr.BitLen())), nil
}

// normalizePrefix masks p and turns an IPv4-mapped IPv6 prefix of at least
// 96 bits into the IPv4 prefix it stands for, since Resolve unmaps addresses
// before matching them.
func normalizePrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// Resolver finds the client address of a request. It is immutable after
// NewResolver and safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
}

// NewResolver returns a Resolver that believes forwarded headers only from
// peers inside one of the trusted prefixes. With no trusted prefixes every
// request's client is its TCP peer. Invalid prefixes are ignored; the slice
// is copied.
func NewResolver(trusted []netip.Prefix) *Resolver {
	r := &Resolver{}
	for _, p := range trusted {
		if p.IsValid() {
			r.trusted = append(r.trusted, normalizePrefix(p))
		}
	}
	return r
}

// Trusted reports whether a is a trusted proxy: its clients share its
// address, so per-client caps do not apply to it.
func (r *Resolver) Trusted(a netip.Addr) bool { return r.isTrusted(a.Unmap()) }

func (r *Resolver) isTrusted(a netip.Addr) bool {
	if r == nil {
		return false
	}
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Resolve returns the client address of a request that arrived from peer,
// the TCP socket peer, with the given X-Forwarded-For (several header lines
// joined with ", ") and X-Real-IP values.
//
// The headers are believed only when peer is inside a trusted prefix;
// otherwise they are ignored entirely, however malformed, and peer is the
// client. When they are believed, X-Forwarded-For is walked from right to
// left, skipping trusted proxies: the first untrusted address is the client,
// and entries left of it, which the client may have forged, are not even
// parsed. If every entry is trusted, the leftmost one is the client. Without
// X-Forwarded-For entries X-Real-IP is used, and without either, peer.
//
// Entries may carry a port ("192.0.2.1:5678", "[2001:db8::1]:443") and may
// be padded with spaces or tabs; empty list elements are skipped. The
// result is always unmapped (an IPv4-mapped IPv6 address becomes IPv4) and
// has no zone. A malformed entry that Resolve has to read, or a believed
// header longer than MaxHeaderLen, gives an error wrapping
// ErrInvalidForwarded whose text says which header was wrong, never what it
// held.
//
// An invalid peer (the zero Addr, as for a Unix socket) is never trusted and
// is returned as it is. A nil Resolver trusts no one.
func (r *Resolver) Resolve(peer netip.Addr, xForwardedFor, xRealIP string) (netip.Addr, error) {
	peer = peer.Unmap().WithZone("")
	if !peer.IsValid() || !r.isTrusted(peer) {
		return peer, nil
	}
	if len(xForwardedFor) > MaxHeaderLen {
		return netip.Addr{}, errForwardedForTooLong
	}
	if len(xRealIP) > MaxHeaderLen {
		return netip.Addr{}, errRealIPTooLong
	}

	var leftmost netip.Addr
	rest := xForwardedFor
	for len(rest) > 0 {
		var elem string
		if i := strings.LastIndexByte(rest, ','); i >= 0 {
			elem, rest = rest[i+1:], rest[:i]
		} else {
			elem, rest = rest, ""
		}
		elem = trimOWS(elem)
		if elem == "" {
			continue
		}
		a, ok := parseAddrPort(elem)
		if !ok {
			return netip.Addr{}, errForwardedFor
		}
		if !r.isTrusted(a) {
			return a, nil
		}
		leftmost = a
	}
	if leftmost.IsValid() {
		return leftmost, nil
	}

	if v := trimOWS(xRealIP); v != "" {
		a, ok := parseAddrPort(v)
		if !ok {
			return netip.Addr{}, errRealIP
		}
		return a, nil
	}
	return peer, nil
}

// trimOWS removes the optional white space (spaces and tabs) that HTTP allows
// around list elements.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// parseAddrPort parses "192.0.2.1", "192.0.2.1:80", "2001:db8::1",
// "[2001:db8::1]" or "[2001:db8::1]:80" and returns the unmapped address.
// Zones are rejected: a header has no business naming our interfaces.
func parseAddrPort(s string) (netip.Addr, bool) {
	host := s
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host = s[1:end]
		if tail := s[end+1:]; tail != "" && !isPort(tail) {
			return netip.Addr{}, false
		}
		if strings.IndexByte(host, ':') < 0 { // brackets are for IPv6 only
			return netip.Addr{}, false
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
		// Exactly one colon: an IPv4 address with a port.
		if !isPort(s[i:]) {
			return netip.Addr{}, false
		}
		host = s[:i]
		if strings.IndexByte(host, '.') < 0 {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// isPort reports whether s is a colon followed by a decimal port, 0 to 65535.
func isPort(s string) bool {
	if len(s) < 2 || len(s) > 6 || s[0] != ':' {
		return false
	}
	n := 0
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}
