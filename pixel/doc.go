// Package pixel is what a pixel and a tracked link are, without serving
// them: the 43-byte GIF that every pixel answer carries, the signing of
// email-open URLs (Claims, Key, Sign, Verify, EmailURL) and of click links
// (Link, Key.SignLink, Key.VerifyLink, ClickURL, HoneypotHTML). It is a
// leaf: an email system imports it to sign URLs without pulling in the
// collector, an HTTP framework or anything else of this module. The
// collector's handlers for /p.gif, /e/{site}/{campaign}.gif and
// /l/{site}/{campaign}/{label} live in package collector.
//
// testdata/vectors.json holds the signing recipes' test vectors (inputs,
// the exact MAC input, the signature and the URL), checked by TestVectors,
// for email systems that sign in another language.
package pixel
