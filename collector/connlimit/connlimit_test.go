package connlimit_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/collector/connlimit"
)

// serve runs a Fiber app behind the limiter on loopback, as the collector
// does, with fasthttp's own cap a little above the limiter's.
func serve(t *testing.T, opts connlimit.Options) (addr string, l *connlimit.Limiter) {
	t.Helper()
	l, err := connlimit.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true, Concurrency: opts.Max + 8, IdleTimeout: time.Minute})
	app.Server().ConnState = l.ConnState
	app.Get("/", func(c *fiber.Ctx) error { return c.SendString("ok") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(l.Listener(ln))
	t.Cleanup(func() { app.Shutdown() })
	return ln.Addr().String(), l
}

// keepAlive opens a connection from source address from, makes one
// request and leaves the connection idle; ok is false when the server
// refused it.
func keepAlive(t *testing.T, addr, from string) (net.Conn, bool) {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, false
	}
	res.Body.Close()
	c.SetDeadline(time.Time{})
	return c, res.StatusCode == http.StatusOK
}

func get(t *testing.T, addr, from string) int {
	t.Helper()
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext, DisableKeepAlives: true}
	client := http.Client{Transport: tr, Timeout: 3 * time.Second}
	res, err := client.Get("http://" + addr + "/")
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func TestIdleSocketsCannotStarveNewClients(t *testing.T) {
	var evicted atomic.Int64
	addr, l := serve(t, connlimit.Options{Max: 20, PerClient: -1, OnRefused: func(r string) {
		if r == "idle_evicted" {
			evicted.Add(1)
		}
	}})
	// 20 idle keep-alive sockets fill the cap, from 20 clients.
	var held []net.Conn
	for i := 0; i < 20; i++ {
		c, ok := keepAlive(t, addr, fmt.Sprintf("127.0.1.%d", i+1))
		if !ok {
			t.Fatalf("idle socket %d refused", i)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	// Every new client is still served: the longest-idle socket makes room.
	for i := 0; i < 30; i++ {
		if got := get(t, addr, "127.0.2.1"); got != http.StatusOK {
			t.Fatalf("new client %d at the cap: %d", i, got)
		}
	}
	if evicted.Load() == 0 {
		t.Error("no idle connection was evicted")
	}
	if n := l.Open(); n > 20 {
		t.Errorf("%d connections open, cap 20", n)
	}
}

func TestPerClientCap(t *testing.T) {
	var refused atomic.Int64
	addr, _ := serve(t, connlimit.Options{Max: 100, PerClient: 4, OnRefused: func(r string) {
		if r == "per_client" {
			refused.Add(1)
		}
	}})
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	served := 0
	for i := 0; i < 10; i++ {
		if c, ok := keepAlive(t, addr, "127.0.3.1"); ok {
			served++
			held = append(held, c)
		}
	}
	if served != 4 || refused.Load() != 6 {
		t.Fatalf("one client got %d connections (refused %d), want 4", served, refused.Load())
	}
	if got := get(t, addr, "127.0.3.2"); got != http.StatusOK {
		t.Fatalf("another client while the first is at its cap: %d", got)
	}
	// Closing one frees a slot for the same client.
	held[0].Close()
	held = held[1:]
	time.Sleep(100 * time.Millisecond)
	if c, ok := keepAlive(t, addr, "127.0.3.1"); !ok {
		t.Fatal("the client was not given back its slot")
	} else {
		held = append(held, c)
	}
}

func TestNeedsACap(t *testing.T) {
	if _, err := connlimit.New(connlimit.Options{}); err == nil || !strings.Contains(err.Error(), "positive") {
		t.Errorf("New without a cap: %v", err)
	}
}
