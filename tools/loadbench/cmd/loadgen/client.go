package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"time"
)

// conn is one keep-alive HTTP/1.1 connection that writes pre-serialised
// requests and reads responses with Content-Length bodies: no allocation
// per request, so the generator's own cost stays small next to the server's.
type conn struct {
	addr string
	c    net.Conn
	buf  []byte
	r, w int // unread bytes are buf[r:w]
	// dials counts connections made, the first one included.
	dials int
}

func newConn(addr string) *conn { return &conn{addr: addr, buf: make([]byte, 64<<10)} }

var (
	errNoLength  = errors.New("response without Content-Length")
	errBadStatus = errors.New("malformed status line")
	errTooLarge  = errors.New("response larger than the read buffer")
)

func (k *conn) close() {
	if k.c != nil {
		k.c.Close()
		k.c = nil
	}
	k.r, k.w = 0, 0
}

// do sends req and returns the response status. On any error the
// connection is closed; the next call dials again.
func (k *conn) do(req []byte) (int, error) {
	if err := k.dial(); err != nil {
		return 0, err
	}
	if _, err := k.c.Write(req); err != nil {
		k.close()
		return 0, err
	}
	status, closeAfter, err := k.readResponse()
	if err != nil {
		k.close()
		return 0, err
	}
	if closeAfter {
		k.close()
	}
	return status, nil
}

var (
	crlf2      = []byte("\r\n\r\n")
	hdrLength  = []byte("content-length:")
	hdrConnClo = []byte("connection: close")
)

func (k *conn) fill() error {
	if k.r > 0 && k.r == k.w {
		k.r, k.w = 0, 0
	}
	if k.w == len(k.buf) {
		if k.r == 0 {
			return errTooLarge
		}
		k.w = copy(k.buf, k.buf[k.r:k.w])
		k.r = 0
	}
	n, err := k.c.Read(k.buf[k.w:])
	k.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (k *conn) readResponse() (status int, closeAfter bool, err error) {
	var end int
	for {
		if end = bytes.Index(k.buf[k.r:k.w], crlf2); end >= 0 {
			break
		}
		if err := k.fill(); err != nil {
			return 0, false, err
		}
	}
	head := k.buf[k.r : k.r+end+2]
	// "HTTP/1.1 200 OK"
	if len(head) < 12 || !bytes.HasPrefix(head, []byte("HTTP/1.")) {
		return 0, false, errBadStatus
	}
	status, err = strconv.Atoi(string(head[9:12]))
	if err != nil {
		return 0, false, errBadStatus
	}
	length := -1
	for line := head; len(line) > 0; {
		i := bytes.Index(line, []byte("\r\n"))
		if i < 0 {
			break
		}
		h := line[:i]
		line = line[i+2:]
		if len(h) >= len(hdrLength) && asciiEqualFold(h[:len(hdrLength)], hdrLength) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(h[len(hdrLength):])))
			if err != nil {
				return 0, false, errNoLength
			}
		} else if len(h) >= len(hdrConnClo) && asciiEqualFold(h[:len(hdrConnClo)], hdrConnClo) {
			closeAfter = true
		}
	}
	if length < 0 {
		return 0, false, errNoLength
	}
	total := end + 4 + length
	for k.w-k.r < total {
		if err := k.fill(); err != nil {
			return 0, false, err
		}
	}
	k.r += total
	return status, closeAfter, nil
}

func asciiEqualFold(a, lower []byte) bool {
	for i := range lower {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func (k *conn) dial() error {
	if k.c != nil {
		return nil
	}
	c, err := net.DialTimeout("tcp", k.addr, 5*time.Second)
	if err != nil {
		return err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	k.c = c
	k.dials++
	return nil
}
