package main

import (
	"bytes"
	"errors"
	"strconv"
)

var (
	errNoLength  = errors.New("response without Content-Length")
	errBadStatus = errors.New("malformed status line")
	errTooLarge  = errors.New("response larger than the read buffer")
)

var (
	crlf2      = []byte("\r\n\r\n")
	hdrLength  = []byte("content-length:")
	hdrConnClo = []byte("connection: close")
)

// parseResponse reads one HTTP/1.1 response with a Content-Length body
// (what every server here sends) from the start of b. consumed is 0 while
// the response is incomplete. No allocation.
func parseResponse(b []byte) (consumed, status int, closeAfter bool, err error) {
	end := bytes.Index(b, crlf2)
	if end < 0 {
		return 0, 0, false, nil
	}
	head := b[:end+2]
	// "HTTP/1.1 200 OK"
	if len(head) < 12 || !bytes.HasPrefix(head, []byte("HTTP/1.")) {
		return 0, 0, false, errBadStatus
	}
	status, err = atoi3(head[9:12])
	if err != nil {
		return 0, 0, false, err
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
			if err != nil || length < 0 {
				return 0, 0, false, errNoLength
			}
		} else if len(h) >= len(hdrConnClo) && asciiEqualFold(h[:len(hdrConnClo)], hdrConnClo) {
			closeAfter = true
		}
	}
	if length < 0 {
		return 0, 0, false, errNoLength
	}
	total := end + 4 + length
	if len(b) < total {
		return 0, 0, false, nil
	}
	return total, status, closeAfter, nil
}

func atoi3(b []byte) (int, error) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errBadStatus
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
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
