package spam

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"golang.org/x/net/idna"
)

// Reason is the "filtered" counter value of a hit with a spam referrer.
const Reason = "referrer_spam"

//go:embed data/spammers.txt
var defaultList string

// Options says where the list comes from.
type Options struct {
	Files     []string // operator files, one host a line
	NoDefault bool     // leave the embedded list out
}

// List answers whether a referrer is spam. Safe for concurrent use.
type List struct {
	opts  Options
	hosts atomic.Pointer[map[string]struct{}]
}

// New loads the list; an error names the first bad file and line.
func New(opts Options) (*List, error) {
	l := &List{opts: opts}
	if err := l.Reload(); err != nil {
		return nil, err
	}
	return l, nil
}

// Reload re-reads every source; on error the previous list stays in use.
func (l *List) Reload() error {
	hosts := make(map[string]struct{}, 4096)
	if !l.opts.NoDefault {
		if err := read("embedded spammers.txt", strings.NewReader(defaultList), hosts); err != nil {
			return err
		}
	}
	for _, path := range l.opts.Files {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("cannot open referrer spam list: %w", err)
		}
		err = read(path, f, hosts)
		f.Close()
		if err != nil {
			return err
		}
	}
	l.hosts.Store(&hosts)
	return nil
}

// Len is the number of hosts in use (Unicode hosts count twice).
func (l *List) Len() int { return len(*l.hosts.Load()) }

func read(path string, r io.Reader, hosts map[string]struct{}) error {
	sc := bufio.NewScanner(r)
	n := 1
	for ; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(line)), ".")
		if line == "" {
			continue
		}
		ascii, err := idna.Lookup.ToASCII(line)
		if err != nil || !strings.Contains(ascii, ".") {
			return fmt.Errorf("cannot load referrer spam list %s: line %d: not a host name", path, n)
		}
		hosts[line] = struct{}{}
		hosts[ascii] = struct{}{}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return fmt.Errorf("cannot load referrer spam list %s: line %d: longer than 64 KiB", path, n)
	} else if err != nil {
		return fmt.Errorf("cannot read referrer spam list %s: %w", path, err)
	}
	return nil
}

// Host reports whether host (a referrer's host name) or one of the domains
// it belongs to is listed. Case and a trailing dot are ignored.
func (l *List) Host(host string) bool {
	hosts := *l.hosts.Load()
	host = strings.TrimSuffix(host, ".")
	if hasUpper(host) {
		host = strings.ToLower(host)
	}
	for host != "" {
		if _, ok := hosts[host]; ok {
			return true
		}
		i := strings.IndexByte(host, '.')
		if i < 0 {
			return false
		}
		host = host[i+1:]
	}
	return false
}

// Referrer reports whether the host of a raw Referer header (or the
// referrer field of an event) is listed. Anything that is not an http(s)
// URL is not spam by this test.
func (l *List) Referrer(raw string) bool {
	h := referrerHost(raw)
	return h != "" && l.Host(h)
}

// referrerHost cuts the host out of an absolute http(s) URL without
// allocating.
func referrerHost(raw string) string {
	s := strings.TrimSpace(raw)
	switch {
	case len(s) >= 8 && strings.EqualFold(s[:8], "https://"):
		s = s[8:]
	case len(s) >= 7 && strings.EqualFold(s[:7], "http://"):
		s = s[7:]
	default:
		return ""
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	if strings.HasPrefix(s, "[") {
		return "" // an IPv6 literal is no listed host
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
