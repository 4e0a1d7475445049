package spool

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"tally/aggregator"
)

func batch(path string, n int64) *aggregator.Batch {
	b := aggregator.NewBatch()
	b.Web[aggregator.WebKey{Site: "example.com", Hour: 3600, Dimension: aggregator.DimPath, Value: path}] = aggregator.WebCounts{Pageviews: n}
	b.Email[aggregator.EmailKey{Site: "example.com", Campaign: "c", Dimension: aggregator.DimTotal}] = aggregator.EmailCounts{Opens: n}
	return b
}

func pageviews(t *testing.T, s *Spool, seq uint64, path string) int64 {
	t.Helper()
	b, err := s.Read(seq)
	if err != nil {
		t.Fatal(err)
	}
	return b.Web[aggregator.WebKey{Site: "example.com", Hour: 3600, Dimension: aggregator.DimPath, Value: path}].Pageviews
}

func TestAppendMergeSealReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= 3; i++ {
		if _, err := s.Append(batch("/a", i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.Sealed()) != 0 || s.Len() != 3 {
		t.Fatalf("after appends: %d sealed, %d segments", len(s.Sealed()), s.Len())
	}
	seq, ok, err := s.MergeAndSeal()
	if err != nil || !ok {
		t.Fatalf("MergeAndSeal: %v %v", ok, err)
	}
	if got := pageviews(t, s, seq, "/a"); got != 6 {
		t.Fatalf("merged segment has %d page views, want 6", got)
	}
	if s.Len() != 1 || len(s.Sealed()) != 1 {
		t.Fatalf("after merge: %d segments, sealed %v", s.Len(), s.Sealed())
	}
	token := s.Token(seq)

	// A restart finds the sealed segment with the same token, and numbers
	// new segments after it.
	s2, err := Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Sealed(); len(got) != 1 || got[0] != seq || s2.Token(seq) != token {
		t.Fatalf("after reopen: sealed %v token %q, want [%d] %q", got, s2.Token(seq), seq, token)
	}
	next, _ := s2.Append(batch("/b", 1))
	if next <= seq {
		t.Fatalf("new segment %d is not after %d", next, seq)
	}
	if _, ok, _ := s2.MergeAndSeal(); !ok || len(s2.Sealed()) != 2 {
		t.Fatalf("a sealed segment must never be merged again: sealed %v", s2.Sealed())
	}
	if err := s2.Remove(seq); err != nil || s2.Len() != 1 {
		t.Fatalf("remove: %v, %d left", err, s2.Len())
	}

	other, _ := Open(t.TempDir(), 1<<20)
	if other.Token(seq) == token {
		t.Fatal("two spools made the same token")
	}
}

func TestReplaceKeepsToken(t *testing.T) {
	s, _ := Open(t.TempDir(), 1<<20)
	s.Append(batch("/a", 2))
	seq, _, _ := s.MergeAndSeal()
	token := s.Token(seq)
	left := aggregator.NewBatch()
	left.Email = batch("/a", 2).Email
	if err := s.Replace(seq, left); err != nil {
		t.Fatal(err)
	}
	b, _ := s.Read(seq)
	if len(b.Web) != 0 || len(b.Email) != 1 || s.Token(seq) != token {
		t.Fatalf("after Replace: web %d email %d", len(b.Web), len(b.Email))
	}
}

func TestBounded(t *testing.T) {
	s, _ := Open(t.TempDir(), 600)
	var err error
	n := 0
	for ; n < 100 && err == nil; n++ {
		_, err = s.Append(batch("/a", 1))
	}
	if !errors.Is(err, ErrFull) || !errors.Is(err, aggregator.ErrJournalFull) {
		t.Fatalf("after %d appends: %v, want ErrFull", n, err)
	}
	if s.Size() > 600 {
		t.Fatalf("spool grew to %d bytes past its bound", s.Size())
	}
	// Merging frees the room of its sources, so a full spool still drains.
	if _, ok, err := s.MergeAndSeal(); err != nil || !ok {
		t.Fatalf("merge in a full spool: %v", err)
	}
}

func TestCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, 1<<20)
	a, _ := s.Append(batch("/a", 1))
	b, _ := s.Append(batch("/a", 2))
	src := func(seq uint64) []byte {
		data, err := os.ReadFile(filepath.Join(dir, s.name(seq, false)))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	da, db := src(a), src(b)
	merged, _, _ := s.MergeAndSeal()
	// Simulate a crash after the merged segment was durable but before its
	// sources were removed, and a half-written temporary file.
	os.WriteFile(filepath.Join(dir, s.name(a, false)), da, 0o600)
	os.WriteFile(filepath.Join(dir, s.name(b, false)), db, 0o600)
	os.WriteFile(filepath.Join(dir, "x.seg.123.tmp"), []byte("half"), 0o600)

	s2, err := Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Len() != 1 || pageviews(t, s2, merged, "/a") != 3 {
		t.Fatalf("after a crash mid-merge: %d segments; sources must not count twice", s2.Len())
	}
	if _, err := os.Stat(filepath.Join(dir, "x.seg.123.tmp")); !os.IsNotExist(err) {
		t.Fatal("temporary file left behind")
	}
}
