// Package certs serves a TLS certificate that can be swapped while the
// server runs: Reload reads the files again (on SIGHUP), and new
// handshakes use the new pair while established connections go on. A
// reload that fails keeps the pair in use, so a half-written renewal
// cannot take the collector off the air.
package certs

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// Reloader holds the current certificate of a cert and key file pair.
type Reloader struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// Load reads the pair once; it fails when either file is missing or they
// do not match.
func Load(certFile, keyFile string) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again and swaps the certificate in.
func (r *Reloader) Reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("cannot load TLS certificate %s and key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cur.Store(&c)
	return nil
}

// Config is a server configuration that asks the Reloader for the
// certificate of every handshake (TLS 1.2 at least).
func (r *Reloader) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return r.cur.Load(), nil
		},
	}
}
