package certs_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"

	"tally/internal/certs"
	"tally/internal/certs/certtest"
)

func TestReloadSwapsAndKeepsOnFailure(t *testing.T) {
	dir := t.TempDir()
	cf, kf, first := certtest.Write(t, dir, "first")
	r, err := certs.Load(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", r.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	served := func() []byte {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Raw
	}
	if string(served()) != string(first) {
		t.Fatal("not serving the loaded certificate")
	}
	_, _, second := certtest.Write(t, dir, "second")
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if string(served()) != string(second) {
		t.Fatal("not serving the reloaded certificate")
	}
	os.WriteFile(kf, []byte("garbage"), 0o600)
	if err := r.Reload(); err == nil {
		t.Fatal("a broken key file reloaded")
	}
	if string(served()) != string(second) {
		t.Fatal("a failed reload dropped the working certificate")
	}
	if _, err := certs.Load(filepath.Join(dir, "missing"), kf); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
}
