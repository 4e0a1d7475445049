package main

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// serve answers each request read on a loopback listener with the next
// canned response, written in small pieces to exercise partial reads.
func serve(t *testing.T, responses ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for len(responses) > 0 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r := bufio.NewReader(c)
			for len(responses) > 0 {
				line, err := r.ReadString('\n')
				if err != nil {
					break
				}
				for line != "\r\n" { // headers; the test requests have no body
					if line, err = r.ReadString('\n'); err != nil {
						break
					}
				}
				resp := responses[0]
				responses = responses[1:]
				for i := 0; i < len(resp); i += 7 {
					c.Write([]byte(resp[i:min(i+7, len(resp))]))
					time.Sleep(time.Millisecond / 10)
				}
				if strings.Contains(resp, "Connection: close") {
					break
				}
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestConnReadsResponses(t *testing.T) {
	gifResp := "HTTP/1.1 200 OK\r\nContent-Type: image/gif\r\ncontent-length: 43\r\n\r\n" + strings.Repeat("x", 43)
	addr := serve(t,
		gifResp,
		"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		gifResp, // on a new connection
	)
	k := newConn(addr)
	defer k.close()
	req := []byte("GET /p.gif HTTP/1.1\r\nHost: x\r\n\r\n")
	for i, want := range []int{200, 202, 400, 200} {
		got, err := k.do(req)
		if err != nil || got != want {
			t.Fatalf("response %d: status %d, err %v; want %d", i, got, err, want)
		}
	}
	if k.dials != 2 {
		t.Errorf("dials = %d, want 2 (the server closed after the 400)", k.dials)
	}
}

func TestConnRefusesResponsesWithoutLength(t *testing.T) {
	addr := serve(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	k := newConn(addr)
	defer k.close()
	if _, err := k.do([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != errNoLength {
		t.Fatalf("err = %v, want errNoLength", err)
	}
}

func TestSigningIsTheCollectors(t *testing.T) {
	// From `collector sign-pixel -sites-file sites.example.json -site example.com
	// -campaign spring -recipient r-1`.
	want := "/e/example.com/spring.gif?r=r-1&s=69NGz6SpLlLK8sg-T9v8Og"
	if got := emailPath("change-me-example-secret-0123456789abcdef", "example.com", "spring", "r-1", false, false); got != want {
		t.Fatalf("emailPath = %s, want %s", got, want)
	}
	forged := emailPath("change-me-example-secret-0123456789abcdef", "example.com", "spring", "r-1", false, true)
	if forged == want || len(forged) != len(want) {
		t.Fatalf("tampered path %s", forged)
	}
}
