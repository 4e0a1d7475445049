// Package language reads the visitor's language from the Accept-Language
// header: the primary subtag of the most preferred range, as an ISO 639-1
// code in lower case ("de", "en"). Nothing else of the header is kept: no
// region ("de-AT" is "de"), no script, no second choice, no q-value. A
// header that names no ISO 639-1 language gives "".
//
// Codes come from a fixed table, so a counted value is always one of 183
// short constants and reading a header allocates nothing.
package language
