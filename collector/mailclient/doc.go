// Package mailclient names the email client behind an open-pixel request and
// tells machine opens (privacy proxies that fetch every image on delivery,
// link scanners) from opens by a person. It looks at the user agent only.
package mailclient
