// Package connlimit keeps the collector's connections available to every
// client. fasthttp counts an idle keep-alive connection against its global
// cap until the idle timeout, so a few clients holding idle sockets could
// make everyone else, dashboards included, get 503 for a whole minute.
// Two rules prevent that:
//
//   - a cap per client, where a client is an IPv4 address or an IPv6 /64
//     (one host holds a whole /64), told apart by a keyed hash held in
//     memory only, never by the address; trusted proxies are exempt, since
//     every client behind them shares their address;
//   - at the global cap, the longest-idle keep-alive connection is closed
//     to make room for a new one, so only connections that are busy
//     serving a request can fill the server.
package connlimit

import (
	"container/list"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Options configure a Limiter.
type Options struct {
	// Max is the global connection cap (the server's own cap should be at
	// least this).
	Max int
	// PerClient caps one client's connections (default 64; negative: no
	// per-client cap).
	PerClient int
	// Exempt reports peers that may exceed PerClient (trusted proxies).
	Exempt func(netip.Addr) bool
	// OnRefused is told each connection refused or evicted (metrics);
	// reason is "per_client" or "idle_evicted".
	OnRefused func(reason string)
}

// DefaultPerClient is the per-client cap when Options.PerClient is 0: far
// more than a browser opens (six per origin), far fewer than the cap.
const DefaultPerClient = 64

// Limiter tracks connections; use Listener to wrap the server's listener
// and ConnState as the fasthttp server's ConnState hook.
type Limiter struct {
	opts Options
	seed maphash.Seed

	mu       sync.Mutex
	open     int
	perKey   map[uint64]int
	idle     *list.List // of *conn, longest idle first
	released chan struct{}
}

// New checks opts.
func New(opts Options) (*Limiter, error) {
	if opts.Max <= 0 {
		return nil, errors.New("connlimit: the global cap must be positive")
	}
	if opts.PerClient == 0 {
		opts.PerClient = DefaultPerClient
	}
	if opts.Exempt == nil {
		opts.Exempt = func(netip.Addr) bool { return false }
	}
	if opts.OnRefused == nil {
		opts.OnRefused = func(string) {}
	}
	return &Limiter{opts: opts, seed: maphash.MakeSeed(), perKey: map[uint64]int{},
		idle: list.New(), released: make(chan struct{}, 1)}, nil
}

// clientKey hashes the client part of a peer address: the address for
// IPv4, its /64 for IPv6.
func (l *Limiter) clientKey(addr netip.Addr) (key uint64, exempt bool) {
	addr = addr.Unmap()
	if l.opts.Exempt(addr) {
		return 0, true
	}
	var b [16]byte
	if addr.Is4() {
		a4 := addr.As4()
		copy(b[:], a4[:])
	} else {
		a16 := addr.As16()
		binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(a16[:8]))
		b[15] = 6 // not an IPv4 key
	}
	return maphash.Bytes(l.seed, b[:]), false
}

// conn is one tracked connection.
type conn struct {
	net.Conn
	l      *Limiter
	key    uint64
	exempt bool
	elem   *list.Element // in l.idle while idle
	once   sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c) })
	return err
}

func (l *Limiter) release(c *conn) {
	l.mu.Lock()
	l.open--
	if !c.exempt {
		if l.perKey[c.key]--; l.perKey[c.key] <= 0 {
			delete(l.perKey, c.key)
		}
	}
	if c.elem != nil {
		l.idle.Remove(c.elem)
		c.elem = nil
	}
	l.mu.Unlock()
	select {
	case l.released <- struct{}{}:
	default:
	}
}

// ConnState is the fasthttp server's ConnState hook: it keeps the list of
// idle keep-alive connections in the order they became idle.
func (l *Limiter) ConnState(nc net.Conn, state fasthttp.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.elem != nil {
		l.idle.Remove(c.elem)
		c.elem = nil
	}
	if state == fasthttp.StateIdle {
		c.elem = l.idle.PushBack(c)
	}
}

// admit decides on a new connection: refused when its client is at its
// cap; at the global cap, the longest-idle connection is closed first and
// admit waits briefly for the server to release it.
func (l *Limiter) admit(nc net.Conn) (*conn, bool) {
	var peer netip.Addr
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		peer, _ = netip.AddrFromSlice(ta.IP)
	}
	key, exempt := l.clientKey(peer)
	l.mu.Lock()
	if !exempt && l.opts.PerClient > 0 && l.perKey[key] >= l.opts.PerClient {
		l.mu.Unlock()
		l.opts.OnRefused("per_client")
		return nil, false
	}
	var evict *conn
	if l.open >= l.opts.Max {
		if front := l.idle.Front(); front != nil {
			evict = front.Value.(*conn)
			l.idle.Remove(front)
			evict.elem = nil
		}
	}
	l.open++
	if !exempt {
		l.perKey[key]++
	}
	l.mu.Unlock()
	if evict != nil {
		l.opts.OnRefused("idle_evicted")
		// Close the socket only (under TLS, the TCP connection: a TLS
		// close would wait to send its alert): the server's worker sees
		// the read fail, closes the wrapper and frees its slot.
		if tc, ok := evict.Conn.(*tls.Conn); ok {
			tc.NetConn().Close()
		} else {
			evict.Conn.Close()
		}
		l.waitBelow(l.opts.Max + 1)
	}
	return &conn{Conn: nc, l: l, key: key, exempt: exempt}, true
}

// waitBelow waits up to 100ms until fewer than n connections are open (the
// new one included), so that the server has a free slot for it.
func (l *Limiter) waitBelow(n int) {
	deadline := time.NewTimer(100 * time.Millisecond)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		ok := l.open < n
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-l.released:
		case <-deadline.C:
			return
		}
	}
}

// Listener wraps inner so that every accepted connection is admitted and
// tracked.
func (l *Limiter) Listener(inner net.Listener) net.Listener { return &listener{Listener: inner, l: l} }

type listener struct {
	net.Listener
	l *Limiter
}

func (ln *listener) Accept() (net.Conn, error) {
	for {
		nc, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if c, ok := ln.l.admit(nc); ok {
			return c, nil
		}
		nc.Close()
	}
}

// Open is the number of tracked connections.
func (l *Limiter) Open() int { l.mu.Lock(); defer l.mu.Unlock(); return l.open }
