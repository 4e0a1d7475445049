// Package pixel serves the website pixel (/p.gif) and the signed email-open
// pixel (/e/{site}/{campaign}.gif), and signs email-open URLs.
//
// A pixel always answers with the same valid 1x1 GIF and no-store headers,
// whatever happened: a page or an email must never show a broken image, and
// the answer must not tell a sender of forged or malformed URLs what was
// wrong. What was counted shows in metrics, never in the response.
package pixel
