// Package statement writes the analytics paragraph of a site's privacy
// policy from what the collector is configured to do: the site's consent
// mode, k, e-mail pixels and path rules, and the collector's retention,
// region lookup and e-mail window. Each sentence is chosen by a setting
// that the collector applies, so the text is true by construction as long
// as it is printed from the configuration in use (collector statement);
// a changed setting changes the text. It renders Markdown and HTML, with
// every configured value escaped.
package statement
