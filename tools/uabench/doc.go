// Package uabench is the benchmark behind the choice of User-Agent parser
// and bot list in collector/useragent. It is its own module so that the
// main module does not carry the libraries that lost.
//
// It compares, for speed and accuracy:
//
//   - parsers: github.com/medama-io/go-useragent, github.com/mileusna/useragent
//     and github.com/ua-parser/uap-go, on a hand-labelled set of real headers
//     (labelled_test.go) and on the device corpus below;
//   - bot detection: github.com/x-way/crawlerdetect, medama's IsBot, both
//     OR'ed (what collector/useragent does), and for reference mileusna's and
//     uap-go's bot flags.
//
// The large corpus is crawlerdetect's own test data (thousands of crawler
// and device headers), read from the module cache at test time and never
// copied here. Run ./run.sh; RESULTS.md holds the figures.
package uabench
