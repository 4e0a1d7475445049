package netclass

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// Reason is the "filtered" counter value of a hit from a data centre.
const Reason = "datacenter"

//go:embed data/hosting-asns.txt
var hostingASNsFile string

//go:embed data/hosting-ranges.csv.gz
var defaultRanges []byte

// Options says where the ranges come from.
type Options struct {
	// CIDRFiles are operator files of CIDR ranges or single addresses.
	CIDRFiles []string
	// ASNFiles are ip-location-db ASN CSV files ("first,last,asn,org");
	// only the hosting networks' rows are kept. Empty means the embedded
	// default.
	ASNFiles []string
	// NoDefault leaves the embedded ranges out, so that only CIDRFiles
	// (and ASNFiles) count.
	NoDefault bool
}

// Classifier answers whether an address is in a data centre. Safe for
// concurrent use; Reload may run while lookups do.
type Classifier struct {
	opts  Options
	table atomic.Pointer[table]
	hosts map[uint32]bool
}

// table is one immutable generation of merged ranges.
type table struct {
	v4 []range4
	v6 []range6
}

type range4 struct{ lo, hi uint32 }

type range6 struct{ lo, hi u128 }

type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// New loads every source; an error names the first bad file and line.
func New(opts Options) (*Classifier, error) {
	hosts, err := HostingASNs()
	if err != nil {
		return nil, err
	}
	c := &Classifier{opts: opts, hosts: make(map[uint32]bool, len(hosts))}
	for _, h := range hosts {
		c.hosts[h.ASN] = true
	}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload re-reads every source and swaps the new table in. On error the
// previous table stays in use.
func (c *Classifier) Reload() error {
	var b builder
	if !c.opts.NoDefault && len(c.opts.ASNFiles) == 0 {
		zr, err := gzip.NewReader(bytes.NewReader(defaultRanges))
		if err != nil {
			return fmt.Errorf("cannot read embedded hosting ranges: %w", err)
		}
		if err := b.readASN("embedded hosting-ranges.csv", zr, nil); err != nil {
			return err
		}
	}
	for _, path := range c.opts.ASNFiles {
		if err := readFile(path, func(r io.Reader) error { return b.readASN(path, r, c.hosts) }); err != nil {
			return err
		}
	}
	for _, path := range c.opts.CIDRFiles {
		if err := readFile(path, func(r io.Reader) error { return b.readCIDR(path, r) }); err != nil {
			return err
		}
	}
	c.table.Store(b.build())
	return nil
}

func readFile(path string, read func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot open range file: %w", err)
	}
	defer f.Close()
	return read(f)
}

// Contains reports whether ip is in a data-centre range. It keeps nothing.
func (c *Classifier) Contains(ip netip.Addr) bool {
	t := c.table.Load()
	ip = ip.Unmap()
	switch {
	case ip.Is4():
		b := ip.As4()
		x := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		i := searchRanges(len(t.v4), func(i int) bool { return t.v4[i].hi >= x })
		return i < len(t.v4) && t.v4[i].lo <= x
	case ip.Is6():
		x := toU128(ip)
		i := searchRanges(len(t.v6), func(i int) bool { return !t.v6[i].hi.less(x) })
		return i < len(t.v6) && !x.less(t.v6[i].lo)
	}
	return false
}

// Len returns the number of merged IPv4 and IPv6 ranges in use.
func (c *Classifier) Len() (v4, v6 int) {
	t := c.table.Load()
	return len(t.v4), len(t.v6)
}

// searchRanges is sort.Search, written out so that the hot path does not
// depend on the compiler inlining sort.Search's closure.
func searchRanges(n int, f func(int) bool) int {
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !f(m) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func toU128(ip netip.Addr) u128 {
	b := ip.As16()
	var x u128
	for i := range 8 {
		x.hi = x.hi<<8 | uint64(b[i])
		x.lo = x.lo<<8 | uint64(b[8+i])
	}
	return x
}

// builder collects ranges from every source before they are merged.
type builder struct {
	v4 []range4
	v6 []range6
}

func (b *builder) add(lo, hi netip.Addr) error {
	lo, hi = lo.Unmap(), hi.Unmap()
	if lo.Is4() != hi.Is4() || hi.Less(lo) {
		return errors.New("the range's ends are of different families or out of order")
	}
	if lo.Is4() {
		l, h := lo.As4(), hi.As4()
		b.v4 = append(b.v4, range4{
			uint32(l[0])<<24 | uint32(l[1])<<16 | uint32(l[2])<<8 | uint32(l[3]),
			uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3]),
		})
		return nil
	}
	b.v6 = append(b.v6, range6{toU128(lo), toU128(hi)})
	return nil
}

// build sorts and merges overlapping or adjacent ranges.
func (b *builder) build() *table {
	slices.SortFunc(b.v4, func(x, y range4) int {
		switch {
		case x.lo < y.lo:
			return -1
		case x.lo > y.lo:
			return 1
		}
		return 0
	})
	var v4 []range4
	for _, r := range b.v4 {
		if n := len(v4); n > 0 && (r.lo <= v4[n-1].hi || v4[n-1].hi != ^uint32(0) && r.lo == v4[n-1].hi+1) {
			v4[n-1].hi = max(v4[n-1].hi, r.hi)
			continue
		}
		v4 = append(v4, r)
	}
	slices.SortFunc(b.v6, func(x, y range6) int {
		switch {
		case x.lo.less(y.lo):
			return -1
		case y.lo.less(x.lo):
			return 1
		}
		return 0
	})
	var v6 []range6
	for _, r := range b.v6 {
		if n := len(v6); n > 0 && !v6[n-1].hi.less(r.lo) {
			if v6[n-1].hi.less(r.hi) {
				v6[n-1].hi = r.hi
			}
			continue
		}
		v6 = append(v6, r)
	}
	return &table{v4: v4, v6: v6}
}

// lineError names a bad line without quoting it: range files hold
// addresses, and an address never goes into an error message.
func lineError(path string, n int, what string) error {
	return fmt.Errorf("cannot load range file %s: line %d: %s", path, n, what)
}

// readCIDR reads an operator file: a CIDR range or a single address a line;
// blank lines and "#" comments are skipped.
func (b *builder) readCIDR(path string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	n := 1
	for ; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var lo, hi netip.Addr
		if strings.Contains(line, "/") {
			p, err := netip.ParsePrefix(line)
			if err != nil {
				return lineError(path, n, "not a CIDR range (want for example 192.0.2.0/24 or 2001:db8::/32)")
			}
			p = p.Masked()
			lo, hi = p.Addr(), lastAddr(p)
		} else {
			a, err := netip.ParseAddr(line)
			if err != nil || a.Zone() != "" {
				return lineError(path, n, "not an IP address or CIDR range")
			}
			lo, hi = a, a
		}
		if err := b.add(lo, hi); err != nil {
			return lineError(path, n, err.Error())
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return lineError(path, n, "longer than 64 KiB")
	} else if err != nil {
		return fmt.Errorf("cannot read range file %s: %w", path, err)
	}
	return nil
}

// readASN reads ip-location-db's "first,last,asn[,org]" rows, keeping the
// rows of hosts (all rows when hosts is nil). "#" lines are comments.
func (b *builder) readASN(path string, r io.Reader, hosts map[uint32]bool) error {
	sc := bufio.NewScanner(r)
	n := 1
	for ; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		first, rest, ok1 := strings.Cut(line, ",")
		last, rest, ok2 := strings.Cut(rest, ",")
		asnField, _, _ := strings.Cut(rest, ",")
		if !ok1 || !ok2 {
			return lineError(path, n, "want first,last,asn[,organisation]")
		}
		asn, err := strconv.ParseUint(asnField, 10, 32)
		if err != nil {
			return lineError(path, n, "the third field is not an AS number")
		}
		if hosts != nil && !hosts[uint32(asn)] {
			continue
		}
		lo, err1 := netip.ParseAddr(first)
		hi, err2 := netip.ParseAddr(last)
		if err1 != nil || err2 != nil {
			return lineError(path, n, "a range end is not an IP address")
		}
		if err := b.add(lo, hi); err != nil {
			return lineError(path, n, err.Error())
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return lineError(path, n, "longer than 64 KiB")
	} else if err != nil {
		return fmt.Errorf("cannot read range file %s: %w", path, err)
	}
	return nil
}

// lastAddr is the highest address of a masked prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// HostingASN is one network of the documented hosting list.
type HostingASN struct {
	ASN  uint32
	Name string
}

// HostingASNs returns the embedded list of hosting networks
// (data/hosting-asns.txt), for documentation and the dashboard.
func HostingASNs() ([]HostingASN, error) {
	var out []HostingASN
	for n, line := range strings.Split(hostingASNsFile, "\n") {
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		num, name, _ := strings.Cut(line, " ")
		asn, err := strconv.ParseUint(num, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("cannot read hosting-asns.txt: line %d: %q is not an AS number", n+1, num)
		}
		out = append(out, HostingASN{ASN: uint32(asn), Name: strings.TrimSpace(name)})
	}
	return out, nil
}
