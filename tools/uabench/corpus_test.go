package uabench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// corpus holds crawlerdetect's test data: every line of crawlers.txt is a
// crawler, every line of devices.txt a person's browser or app.
type corpus struct {
	crawlers []string
	devices  []string
}

var (
	corpusOnce sync.Once
	corpusData corpus
	corpusErr  error
)

// loadCorpus reads crawlerdetect's testdata from the module cache, once per
// test binary.
func loadCorpus(tb testing.TB) corpus {
	tb.Helper()
	corpusOnce.Do(func() {
		corpusData, corpusErr = readCorpus()
	})
	if corpusErr != nil {
		tb.Fatalf("cannot load crawlerdetect corpus: %v", corpusErr)
	}
	return corpusData
}

func readCorpus() (corpus, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/x-way/crawlerdetect").Output()
	if err != nil {
		return corpus{}, fmt.Errorf("cannot locate module github.com/x-way/crawlerdetect: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return corpus{}, fmt.Errorf("module github.com/x-way/crawlerdetect is not downloaded (run go mod download)")
	}
	var c corpus
	if c.crawlers, err = readLines(filepath.Join(dir, "testdata", "crawlers.txt")); err != nil {
		return corpus{}, err
	}
	if c.devices, err = readLines(filepath.Join(dir, "testdata", "devices.txt")); err != nil {
		return corpus{}, err
	}
	return c, nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open corpus file: %w", err)
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("cannot read corpus file %s: %w", path, err)
	}
	return lines, nil
}

// sample returns up to n lines of lines, evenly spread, so a benchmark sees
// the whole range of the file rather than its first (alphabetical) block.
func sample(lines []string, n int) []string {
	if n >= len(lines) {
		return lines
	}
	out := make([]string, 0, n)
	step := float64(len(lines)) / float64(n)
	for i := range n {
		out = append(out, lines[int(float64(i)*step)])
	}
	return out
}
