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
// layers_test.go measures the layered classifier of issue 12 (AI agents,
// automation, three crawler lists, not-a-browser rules) against the one it
// replaced: the before/after table by reason on the published lists
// vendored in collector/useragent/testdata, what each list flags alone, and
// the cost of a first sight and of a cached hit. BENCHMARKS.md quotes it.
//
// The large corpus is crawlerdetect's own test data (thousands of crawler
// and device headers), read from the module cache at test time and never
// copied here. Run ./run.sh; RESULTS.md and BENCHMARKS.md hold the figures.
package uabench
