// Package clientip owns the decision of which address a request comes from:
// the TCP peer, or, when that peer is a trusted reverse proxy, the address
// the proxies recorded in X-Forwarded-For or X-Real-IP.
//
// The result is personal data. This package never logs it, and its errors
// say what was wrong with a header, never what the header held.
package clientip
