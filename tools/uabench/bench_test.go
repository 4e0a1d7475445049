package uabench

import (
	"hash/maphash"
	"testing"

	lru "github.com/hashicorp/golang-lru/v2"
)

const benchChrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

// benchDistinct is how many distinct headers the "corpus" benchmarks cycle
// through: four times uap-go's internal ARC cache (1024), so its cache
// misses and every library does the full parse.
const benchDistinct = 4096

func benchLibs(b *testing.B) *libs {
	b.Helper()
	l, err := newLibs()
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkParse is the cost of a header the parser has not seen: devices.txt
// headers, evenly sampled, cycled.
func BenchmarkParse(b *testing.B) {
	l := benchLibs(b)
	uas := sample(loadCorpus(b).devices, benchDistinct)
	for _, p := range l.parsers() {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.parse(uas[i%len(uas)])
				i++
			}
		})
	}
}

// BenchmarkParseChrome repeats one desktop Chrome header: the best case.
// uap-go answers this one from its internal cache, so its figure here is a
// cache hit, not a parse.
func BenchmarkParseChrome(b *testing.B) {
	l := benchLibs(b)
	for _, p := range l.parsers() {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.parse(benchChrome)
			}
		})
	}
}

// BenchmarkBot is the uncached cost of each bot detector, separately on
// human and crawler headers: a regex list costs more when nothing matches.
func BenchmarkBot(b *testing.B) {
	l := benchLibs(b)
	c := loadCorpus(b)
	sets := []struct {
		name string
		uas  []string
	}{
		{"human", sample(c.devices, benchDistinct)},
		{"crawler", sample(c.crawlers, benchDistinct)},
	}
	for _, d := range l.botDetectors() {
		for _, s := range sets {
			b.Run(d.name+"/"+s.name, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					d.isBot(s.uas[i%len(s.uas)])
					i++
				}
			})
		}
	}
}

// BenchmarkBotCached puts the detectors behind the cache collector/useragent
// uses (an LRU keyed by a seeded 64-bit hash of the header), warmed with a
// mix of 1000 human and crawler headers, and measures the hit path.
func BenchmarkBotCached(b *testing.B) {
	l := benchLibs(b)
	c := loadCorpus(b)
	uas := append(sample(c.devices, 750), sample(c.crawlers, 250)...)
	for _, d := range l.botDetectors() {
		b.Run(d.name, func(b *testing.B) {
			seed := maphash.MakeSeed()
			cache, err := lru.New[uint64, bool](16384)
			if err != nil {
				b.Fatal(err)
			}
			isBot := func(ua string) bool {
				k := maphash.String(seed, ua)
				if v, ok := cache.Get(k); ok {
					return v
				}
				v := d.isBot(ua)
				cache.Add(k, v)
				return v
			}
			for _, ua := range uas {
				isBot(ua)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				isBot(uas[i%len(uas)])
				i++
			}
		})
	}
}
