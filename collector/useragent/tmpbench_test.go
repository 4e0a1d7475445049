package useragent

import (
	"path/filepath"
	"testing"
)

func BenchmarkDetectDevices(b *testing.B) {
	dir := "/root/go/pkg/mod/github.com/x-way/crawlerdetect@v0.2.30"
	t := &testing.T{}
	hs := readLines(t, filepath.Join(dir, "testdata", "devices.txt"), 40)
	var keep []string
	for _, h := range hs {
		if precheck(h) == BotNone {
			keep = append(keep, h)
		}
	}
	d, _ := newDetector()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		d.detect(keep[i%len(keep)])
		i++
	}
}

func BenchmarkDetectCrawlers(b *testing.B) {
	dir := "/root/go/pkg/mod/github.com/x-way/crawlerdetect@v0.2.30"
	t := &testing.T{}
	keep := readLines(t, filepath.Join(dir, "testdata", "crawlers.txt"), 1)
	d, _ := newDetector()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		d.detect(keep[i%len(keep)])
		i++
	}
}

func BenchmarkNewDetector(b *testing.B) {
	for b.Loop() {
		newDetector()
	}
}
