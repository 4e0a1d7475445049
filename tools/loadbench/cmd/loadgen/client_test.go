package main

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseResponse(t *testing.T) {
	gif := "HTTP/1.1 200 OK\r\nContent-Type: image/gif\r\ncontent-length: 43\r\n\r\n" + strings.Repeat("x", 43)
	accepted := "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"
	refused := "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	for _, c := range []struct {
		in       string
		consumed int
		status   int
		close    bool
		err      error
	}{
		{gif, len(gif), 200, false, nil},
		{gif + "HTTP/1.1 202", len(gif), 200, false, nil}, // the next response's start stays
		{gif[:50], 0, 0, false, nil},                      // headers incomplete
		{gif[:len(gif)-1], 0, 0, false, nil},              // body incomplete
		{accepted, len(accepted), 202, false, nil},
		{refused, len(refused), 400, true, nil},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 0, false, errNoLength},
		{"SSH-2.0-OpenSSH\r\n\r\n", 0, 0, false, errBadStatus},
	} {
		n, st, cl, err := parseResponse([]byte(c.in))
		if n != c.consumed || st != c.status || cl != c.close || err != c.err {
			t.Errorf("parseResponse(%q) = %d, %d, %v, %v; want %d, %d, %v, %v", c.in, n, st, cl, err, c.consumed, c.status, c.close, c.err)
		}
	}
}

// testServer answers every request with a GIF-sized body, closing the
// connection after every 50th answer to exercise redials.
func testServer(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%50 == 0 {
			w.Header().Set("Connection", "close")
		}
		w.Header().Set("Content-Type", "image/gif")
		w.Write(make([]byte, 43))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), &n
}

func testTraffic() *traffic {
	tr := &traffic{}
	for i := range 10 {
		tr.reqs = append(tr.reqs, []byte("GET /p.gif?i="+string(rune('0'+i))+" HTTP/1.1\r\nHost: x\r\n\r\n"))
		tr.kinds = append(tr.kinds, kindPixel)
	}
	return tr
}

func TestClosedLoop(t *testing.T) {
	addr, served := testServer(t)
	l, err := newLoop(addr, 4, testTraffic())
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	var stop atomic.Bool
	l.base = time.Now()
	time.AfterFunc(300*time.Millisecond, func() { stop.Store(true) })
	l.closed(100*time.Millisecond, &stop)
	ok := l.st.ok[kindPixel]
	if ok < 100 || l.st.errs != 0 || int64(ok) != served.Load() || l.st.lat.n == 0 || l.st.lat.n >= ok {
		t.Fatalf("closed loop: %d answered, %d served, %d errors (%v), %d latencies in the window",
			ok, served.Load(), l.st.errs, l.st.firstErr, l.st.lat.n)
	}
}

func TestOpenLoopKeepsTheRate(t *testing.T) {
	addr, served := testServer(t)
	l, err := newLoop(addr, 4, testTraffic())
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	l.base = time.Now()
	const rate = 2000.0
	if err := l.open(float64(time.Second)/rate, 100*time.Millisecond, 600*time.Millisecond, monoNow()); err != nil {
		t.Fatal(err)
	}
	// Requests due in [0, 600 ms): 1200, all answered; 1000 in the window.
	if ok := l.st.ok[kindPixel]; ok != 1200 || served.Load() != 1200 || l.st.errs != 0 {
		t.Fatalf("open loop: %d answered, %d served, %d errors (%v); want 1200", ok, served.Load(), l.st.errs, l.st.firstErr)
	}
	if n := l.st.lat.n; n != 1000 {
		t.Errorf("%d latencies in the window, want 1000", n)
	}
	if p := l.st.pacer.quantile(0.5); p > 2*time.Millisecond {
		t.Errorf("pacer lag p50 %v", p)
	}
}
