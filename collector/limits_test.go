package collector

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/collector/ingest"
)

// leaks reports whether key holds addr in any form: its 4 or 16 bytes or
// its text.
func leaks(key string, addr netip.Addr) bool {
	a4, a16 := addr.Unmap().AsSlice(), addr.As16()
	return strings.Contains(key, string(a4)) || strings.Contains(key, string(a16[:])) ||
		strings.Contains(key, addr.String()) || strings.Contains(key, addr.Unmap().String())
}

func TestClientKeysHoldNoAddressAndRotate(t *testing.T) {
	now := uint32(1_700_000_000)
	k := newClientKeys(time.Hour, func() uint32 { return now })
	v4 := netip.MustParseAddr("198.51.100.7")
	v6 := netip.MustParseAddr("2001:db8::7")
	mapped := netip.MustParseAddr("::ffff:198.51.100.7")
	a, b := k.key(v4), k.key(v6)
	if len(a) != 8 || len(b) != 8 || a == b {
		t.Fatalf("keys %x and %x: want 8 distinct bytes", a, b)
	}
	if leaks(a, v4) || leaks(b, v6) {
		t.Fatal("a key holds its address")
	}
	if k.key(v4) != a || k.key(mapped) != a {
		t.Fatal("the same client must keep its key within the hour, IPv4-mapped or not")
	}
	now += 3600
	if k.key(v4) == a {
		t.Fatal("the key did not change with the hour: it would link a client across hours")
	}
}

// TestIPv6ClientsAreTheirSlash64: a host holds a whole /64, so random
// addresses from one /64 share one rate-limit budget.
func TestIPv6ClientsAreTheirSlash64(t *testing.T) {
	k := newClientKeys(time.Hour, func() uint32 { return 1_700_000_000 })
	same := k.key(netip.MustParseAddr("2001:db8:7:1::1"))
	for _, a := range []string{"2001:db8:7:1::2", "2001:db8:7:1:ffff:ffff:ffff:ffff", "2001:db8:7:1:dead:beef:0:1"} {
		if k.key(netip.MustParseAddr(a)) != same {
			t.Errorf("%s is another client than 2001:db8:7:1::1", a)
		}
	}
	if k.key(netip.MustParseAddr("2001:db8:7:2::1")) == same {
		t.Error("two /64s share a budget")
	}
}

// recordingStorage is a fiber.Storage in memory that shows what the
// limiter keeps.
type recordingStorage struct {
	mu   sync.Mutex
	data map[string][]byte
}

func (s *recordingStorage) Get(key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data[key], nil
}

func (s *recordingStorage) Set(key string, val []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data == nil {
		s.data = map[string][]byte{}
	}
	s.data[key] = bytes.Clone(val)
	return nil
}

func (s *recordingStorage) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data, key)
	return nil
}

func (s *recordingStorage) Reset() error { s.mu.Lock(); s.data = nil; s.mu.Unlock(); return nil }
func (s *recordingStorage) Close() error { return nil }

const okEvent = `{"name":"pageview","url":"https://example.com/","domain":"example.com"}`

func metricsBody(t *testing.T, app *fiber.App) string {
	t.Helper()
	_, body := do(t, app, metricsReq())
	return string(body)
}

func TestRateLimitPerClient(t *testing.T) {
	store := &recordingStorage{}
	app, agg := newTestAppWith(t, nil, func(o *Options) { o.RateLimit = 3; o.RateStorage = store })
	a, b := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::7")
	event := func(from netip.Addr) *http.Response {
		resp, _ := do(t, app, eventReq(okEvent, "X-Forwarded-For", from.String()))
		return resp
	}
	for i := range 3 {
		if resp := event(a); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("request %d of 3: status %d", i+1, resp.StatusCode)
		}
	}
	resp, body := do(t, app, eventReq(okEvent, "X-Forwarded-For", a.String()))
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("request 4 of 3: status %d", resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 10 {
		t.Errorf("Retry-After %q, want 1 to 10 seconds", resp.Header.Get("Retry-After"))
	}
	var e errorBody
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		t.Errorf("429 body %q is not a JSON error", body)
	}
	// A pixel over the limit is still an image, and is not counted.
	rows := agg.Pending()
	req := httptest.NewRequest(http.MethodGet, "/p.gif?d=example.com&u=https://example.com/limited", nil)
	req.Header.Set("User-Agent", chrome)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	req.Header.Set("X-Forwarded-For", a.String())
	resp, body = do(t, app, req)
	assertGIF(t, "limited pixel", resp, body)
	if resp.Header.Get("Retry-After") != "" {
		t.Error("a pixel carries Retry-After")
	}
	if agg.Pending() != rows {
		t.Error("a rate-limited pixel was counted")
	}
	// Send reports share the budget: a guessed token is tried at the
	// same rate as anything else, and refused without a look at it.
	sent := httptest.NewRequest(http.MethodPost, "/api/campaigns/spring/sent", strings.NewReader(`{"site":"example.com","count":1}`))
	sent.Header.Set("Authorization", "Bearer guess")
	sent.Header.Set("X-Forwarded-For", a.String())
	if resp, _ := do(t, app, sent); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("/sent over the limit: status %d", resp.StatusCode)
	}
	// Another client has its own budget.
	if resp := event(b); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("another client: status %d", resp.StatusCode)
	}
	m := metricsBody(t, app)
	for _, want := range []string{`tally_shed_total{kind="event",reason="rate_limited"} 1`, `tally_shed_total{kind="web_pixel",reason="rate_limited"} 1`,
		`tally_shed_total{kind="sent",reason="rate_limited"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// What the limiter kept: one 8-byte keyed hash per client, no address.
	store.mu.Lock()
	defer store.mu.Unlock()
	if len(store.data) != 2 {
		t.Errorf("the limiter keeps %d keys for 2 clients", len(store.data))
	}
	for k, v := range store.data {
		if len(k) != 8 || leaks(k, a) || leaks(k, b) || leaks(string(v), a) || leaks(string(v), b) {
			t.Errorf("limiter entry %q = %q holds an address", k, v)
		}
	}
}

func TestRateLimitOff(t *testing.T) {
	app, _ := newTestAppWith(t, nil, func(o *Options) { o.RateLimit = -1 })
	for i := range 200 {
		if resp, _ := do(t, app, eventReq(okEvent)); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("request %d without a rate limit: %d", i, resp.StatusCode)
		}
	}
}

func TestOverloadAnswers503AndPixelsStillGIF(t *testing.T) {
	app, agg := newTestAppWith(t, func(o *ingest.Options) { o.MaxPendingRows = 1 }, nil)
	if resp, _ := do(t, app, eventReq(okEvent)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first event: %d", resp.StatusCode)
	}
	rows := agg.Pending()
	resp, body := do(t, app, eventReq(okEvent))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "10" {
		t.Fatalf("over the bound: status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	var e errorBody
	if json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "memory bound") {
		t.Errorf("503 body %q", body)
	}
	req := httptest.NewRequest(http.MethodGet, "/p.gif?d=example.com&u=https://example.com/x", nil)
	req.Header.Set("User-Agent", chrome)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	resp, body = do(t, app, req)
	assertGIF(t, "pixel over the bound", resp, body)
	sent := httptest.NewRequest(http.MethodPost, "/api/campaigns/spring/sent", strings.NewReader(`{"site":"example.com","count":10}`))
	sent.Header.Set("Authorization", "Bearer "+testSecret)
	if resp, _ := do(t, app, sent); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("sent report over the bound: %d", resp.StatusCode)
	}
	if agg.Pending() != rows {
		t.Fatal("shed hits were counted")
	}
	m := metricsBody(t, app)
	for _, want := range []string{`tally_shed_total{kind="event",reason="counter_rows"} 1`,
		`tally_shed_total{kind="web_pixel",reason="counter_rows"} 1`, `tally_shed_total{kind="sent",reason="counter_rows"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestBodyAndHeaderLimits(t *testing.T) {
	app, agg := newTestAppWith(t, nil, func(o *Options) { o.BodyLimit = 1 << 10; o.HeaderLimit = 4 << 10 })
	url := "http://" + serve(t, app) + "/api/event"
	post := func(body string, header ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	big := `{"name":"pageview","url":"https://example.com/","domain":"example.com","props":{"x":"` + strings.Repeat("a", 2<<10) + `"}}`
	if code, _ := post(big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 2 KiB body with a 1 KiB limit: %d", code)
	}
	secret := "203.0.113.99"
	code, body := post(okEvent, "X-Forwarded-For", secret, "X-Padding", strings.Repeat("p", 5<<10))
	if code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("5 KiB of headers with a 4 KiB limit: %d", code)
	}
	if strings.Contains(body, secret) || strings.Contains(body, "ppp") {
		t.Errorf("the error quotes the request: %q", body)
	}
	if code, _ := post(okEvent); code != http.StatusAccepted {
		t.Errorf("a request within the limits: %d", code)
	}
	if agg.Pending() == 0 {
		t.Error("the request within the limits was not counted")
	}
}

// serve runs app on a real TCP listener until the test ends.
func serve(t *testing.T, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	t.Cleanup(func() { app.ShutdownWithContext(context.Background()) })
	return ln.Addr().String()
}

// TestSlowClientIsCutOff: a client that sends half a request and stalls
// loses its connection after the read timeout, instead of holding it.
func TestSlowClientIsCutOff(t *testing.T) {
	app, _ := newTestAppWith(t, nil, func(o *Options) { o.ReadTimeout = 200 * time.Millisecond; o.RateLimit = -1 })
	addr := serve(t, app)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST /api/event HTTP/1.1\r\nHost: x\r\nContent-Length: 70\r\n")); err != nil {
		t.Fatal(err)
	}
	// Generous: the point is that the server closes, not how fast.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	for {
		_, err := conn.Read(buf)
		if err == nil {
			continue // a 408 page, perhaps: the close follows
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the server kept a stalled connection open for 10s with a 200ms read timeout")
		}
		return // closed by the server
	}
}

// TestMaxConns: past the connection bound a new connection is answered 503.
func TestMaxConns(t *testing.T) {
	app, _ := newTestAppWith(t, nil, func(o *Options) { o.MaxConns = 2; o.RateLimit = -1 })
	addr := serve(t, app)
	// Two keep-alive connections, each with a request served, hold both slots.
	for range 2 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("a connection within the bound: %v %v", resp, err)
		}
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a third connection with a bound of 2: %v %v", resp, err)
	}
}

// TestMalformedRequestErrorsQuoteNothing: fasthttp's parse errors quote
// the request, headers included; the answer must not.
func TestMalformedRequestErrorsQuoteNothing(t *testing.T) {
	app, agg := newTestAppWith(t, nil, nil)
	addr := serve(t, app)
	for _, raw := range []string{
		"GET /p.gif HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.99\r\nContent-Length: x203.0.113.99\r\n\r\n",
		// Control bytes in a header value (request smuggling's raw
		// material): refused before any handler, the address unquoted.
		"GET /p.gif?d=example.com HTTP/1.1\r\nHost: x\r\nUser-Agent: 203.0.113.99\x00\x01\r\n\r\n",
		"POST /api/event HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.99\x01\x02\r\nContent-Length: 2\r\n\r\n{}",
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(raw))
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != http.StatusBadRequest || bytes.Contains(body, []byte("203.0.113.99")) {
			t.Fatalf("%q: status %d, body %q", raw, resp.StatusCode, body)
		}
	}
	if n := agg.Pending(); n != 0 {
		t.Fatalf("malformed requests left %d counter rows", n)
	}
}
