package collector

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"tally/collector/clientip"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/gofiber/fiber/v2/utils"
)

// clientKeys turns a client address into a rate-limit key: a 64-bit keyed
// hash whose key (a maphash seed) is random, held in memory only and
// replaced every period. The limiter's memory therefore never holds an
// address, and a key cannot be linked to the same client's key of another
// period. Safe for concurrent use.
type clientKeys struct {
	period uint32        // seconds
	now    func() uint32 // unix seconds

	mu  sync.Mutex // one rotation at a time
	cur atomic.Pointer[keySeed]
}

type keySeed struct {
	seed  maphash.Seed
	until uint32 // unix seconds when the seed is replaced
}

// newClientKeys starts with a fresh seed. now is the clock in unix
// seconds; Fiber's cached timestamp when nil (one atomic load, where
// time.Now costs a clock read on every request).
func newClientKeys(period time.Duration, now func() uint32) *clientKeys {
	if now == nil {
		utils.StartTimeStampUpdater()
		now = func() uint32 { return atomic.LoadUint32(&utils.Timestamp) }
	}
	k := &clientKeys{period: uint32(max(period/time.Second, 1)), now: now}
	k.cur.Store(k.newSeed(now()))
	return k
}

func (k *clientKeys) newSeed(now uint32) *keySeed {
	return &keySeed{seed: maphash.MakeSeed(), until: now - now%k.period + k.period}
}

// key is the limiter key of addr: 8 bytes of keyed hash, as a string. An
// IPv6 client is its /64: one host is given a whole /64, and keying by the
// full address would give it 2^64 budgets.
func (k *clientKeys) key(addr netip.Addr) string {
	s := k.cur.Load()
	if now := k.now(); now >= s.until {
		k.mu.Lock()
		if s = k.cur.Load(); now >= s.until {
			s = k.newSeed(now)
			k.cur.Store(s)
		}
		k.mu.Unlock()
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		addr = p.Addr()
	}
	ip := addr.As16()
	h := maphash.Bytes(s.seed, ip[:])
	var b [8]byte
	for i := range b {
		b[i] = byte(h >> (8 * i))
	}
	return string(b[:])
}

// ClientKey returns what tells one client from another outside the
// counting routes (the dashboards' sign-in throttle): the same hourly
// rekeyed hash of the client's address, or /64, through the trusted-proxy
// rules, as the rate limit uses. No address is kept.
func ClientKey(proxies *clientip.Resolver) func(*fiber.Ctx) string {
	keys := newClientKeys(time.Hour, nil)
	return func(c *fiber.Ctx) string {
		addr, err := clientAddr(c, proxies)
		if err != nil {
			addr, _ = netip.AddrFromSlice(c.Context().RemoteIP())
		}
		return keys.key(addr)
	}
}

// rateLimit is Fiber's limiter (fixed window, in-memory storage) keyed by
// clientKeys: each client may make limit requests per window to the
// counting routes. Entries live for one window.
func (s *server) rateLimit(limit int, window time.Duration) fiber.Handler {
	keys := newClientKeys(time.Hour, nil)
	return limiter.New(limiter.Config{
		Max:        limit,
		Expiration: window,
		KeyGenerator: func(c *fiber.Ctx) string {
			addr, err := clientAddr(c, s.opts.Proxies)
			if err != nil {
				// A malformed forwarded header: the handler refuses the
				// request; count it against the peer that sent it.
				addr, _ = netip.AddrFromSlice(c.Context().RemoteIP())
			}
			return keys.key(addr)
		},
		LimitReached: s.limited,
		Storage:      s.opts.RateStorage,
	})
}

// limited answers a client over its limit, uncounted: the API with 429
// (the limiter has set Retry-After), a pixel with the image, a click link
// with its redirect.
func (s *server) limited(c *fiber.Ctx) error {
	k, _ := kindOf(c) // the event API or a pixel: the limiter guards only those
	if k.pixel() || k == kindEmailClick {
		c.Response().Header.Del(fiber.HeaderRetryAfter) // an image or a redirect is not retried
	}
	return s.respond(c, k, "", errRateLimited, nil)
}
