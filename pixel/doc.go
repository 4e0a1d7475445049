// Package pixel is what a pixel is, without serving one: the 43-byte GIF
// that every pixel answer carries, and the signing of email-open URLs
// (Claims, Key, Sign, Verify, EmailURL). It is a leaf: an email system
// imports it to sign URLs without pulling in the collector, an HTTP
// framework or anything else of this module. The collector's handlers for
// /p.gif and /e/{site}/{campaign}.gif live in package collector.
package pixel
