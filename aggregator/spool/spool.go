// Package spool is the aggregator's journal on disk: counter deltas (never
// raw hits) in numbered segment files, each written to a temporary file,
// fsynced and renamed into place, so a crash leaves either the whole
// segment or none of it. The aggregator appends a segment every sync
// interval and removes it once ClickHouse has stored it; whatever is on disk
// at start-up is replayed first.
//
// A segment is "sealed" once it has been sent to ClickHouse at least once:
// it keeps its identity (and so its deduplication token) until it is
// stored, and is never merged into another segment.
package spool

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"tally/aggregator"
)

// ErrFull is returned by Append when the segment would take the spool past
// its size bound.
var ErrFull = aggregator.ErrJournalFull

const (
	extOpen   = ".seg"
	extSealed = ".sealed"
)

// Spool is a directory of segments. Safe for concurrent use.
type Spool struct {
	dir      string
	maxBytes int64
	instance string

	mu   sync.Mutex
	next uint64
	segs map[uint64]segInfo
	size int64
}

type segInfo struct {
	size   int64
	sealed bool
}

// segment is the on-disk form.
type segment struct {
	Batch *aggregator.Batch
	// Sources are the segments merged into this one; they are deleted after
	// this one is durable, and deleted on Open if a crash left them.
	Sources []uint64
}

// Open opens or creates the spool in dir, bounded to maxBytes (> 0).
func Open(dir string, maxBytes int64) (*Spool, error) {
	if maxBytes <= 0 {
		return nil, errors.New("spool: size bound must be positive")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create spool directory: %w", err)
	}
	s := &Spool{dir: dir, maxBytes: maxBytes, segs: map[uint64]segInfo{}}
	if err := s.loadInstance(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read spool directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(dir, name)) // an append that never finished
			continue
		}
		seq, sealed, ok := parseName(name)
		if !ok {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("cannot stat spool segment %s: %w", name, err)
		}
		s.segs[seq] = segInfo{size: info.Size(), sealed: sealed}
		s.size += info.Size()
		if seq >= s.next {
			s.next = seq + 1
		}
	}
	// A merge that crashed after its result was durable leaves its sources:
	// they are already inside the merged segment.
	for _, seq := range s.sorted() {
		seg, err := s.read(seq)
		if err != nil {
			return nil, err
		}
		for _, src := range seg.Sources {
			if _, ok := s.segs[src]; ok {
				if err := s.remove(src, false); err != nil {
					return nil, err
				}
			}
		}
	}
	return s, nil
}

// loadInstance reads or makes the spool's random identity, which makes
// deduplication tokens unique across collectors.
func (s *Spool) loadInstance() error {
	path := filepath.Join(s.dir, "instance")
	b, err := os.ReadFile(path)
	if err == nil && len(bytes.TrimSpace(b)) == 32 {
		s.instance = string(bytes.TrimSpace(b))
		return nil
	}
	var id [16]byte
	rand.Read(id[:])
	s.instance = hex.EncodeToString(id[:])
	if err := writeDurable(s.dir, "instance", []byte(s.instance+"\n")); err != nil {
		return fmt.Errorf("cannot write spool identity: %w", err)
	}
	return nil
}

func parseName(name string) (seq uint64, sealed, ok bool) {
	base, ext := name, ""
	switch {
	case strings.HasSuffix(name, extOpen):
		base, ext = strings.TrimSuffix(name, extOpen), extOpen
	case strings.HasSuffix(name, extSealed):
		base, ext = strings.TrimSuffix(name, extSealed), extSealed
	default:
		return 0, false, false
	}
	seq, err := strconv.ParseUint(base, 10, 64)
	return seq, ext == extSealed, err == nil
}

func (s *Spool) name(seq uint64, sealed bool) string {
	if sealed {
		return fmt.Sprintf("%020d%s", seq, extSealed)
	}
	return fmt.Sprintf("%020d%s", seq, extOpen)
}

// Token is the deduplication token of a segment: the same for every retry
// of that segment, from this or a restarted collector, and different from
// every other collector's.
func (s *Spool) Token(seq uint64) string { return s.instance + "-" + strconv.FormatUint(seq, 10) }

// Append stores b as a new open segment and returns its number.
func (s *Spool) Append(b *aggregator.Batch) (uint64, error) {
	return s.write(segment{Batch: b}, false)
}

// Seal stores merged, the sum of the open segments in sources, as one new
// sealed segment, removes the sources and returns the new segment's number.
// The aggregator keeps the sum in memory as it appends, so that in the
// steady state sealing does not read the sources back.
func (s *Spool) Seal(sources []uint64, merged *aggregator.Batch) (uint64, error) {
	s.mu.Lock()
	for _, q := range sources {
		if info, ok := s.segs[q]; !ok || info.sealed {
			s.mu.Unlock()
			return 0, fmt.Errorf("spool segment %d is not an open segment", q)
		}
	}
	s.mu.Unlock()
	// The merged segment replaces its sources, so it may use their room.
	seq, err := s.write(segment{Batch: merged, Sources: sources}, true)
	if err != nil {
		return 0, err
	}
	for _, q := range sources {
		if err := s.remove(q, false); err != nil {
			return 0, err
		}
	}
	return seq, nil
}

// Unsealed lists the open segments, oldest first: after a restart, the
// deltas synced but not yet sealed.
func (s *Spool) Unsealed() []uint64 { return s.list(false) }

// Sealed lists the sealed segments, oldest first.
func (s *Spool) Sealed() []uint64 { return s.list(true) }

func (s *Spool) list(sealed bool) []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint64
	for _, q := range s.sorted() {
		if s.segs[q].sealed == sealed {
			out = append(out, q)
		}
	}
	return out
}

// Read loads a segment's batch.
func (s *Spool) Read(seq uint64) (*aggregator.Batch, error) {
	seg, err := s.read(seq)
	if err != nil {
		return nil, err
	}
	return seg.Batch, nil
}

// Replace rewrites a sealed segment with what is left of it to send (after
// one table was stored), keeping its number and token.
func (s *Spool) Replace(seq uint64, b *aggregator.Batch) error {
	s.mu.Lock()
	_, ok := s.segs[seq]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("spool segment %d does not exist", seq)
	}
	data := encode(segment{Batch: b})
	if err := writeDurable(s.dir, s.name(seq, true), data); err != nil {
		return fmt.Errorf("cannot rewrite spool segment %d: %w", seq, err)
	}
	s.mu.Lock()
	s.size += int64(len(data)) - s.segs[seq].size
	s.segs[seq] = segInfo{size: int64(len(data)), sealed: true}
	s.mu.Unlock()
	return nil
}

// Remove deletes a segment once it is stored.
func (s *Spool) Remove(seq uint64) error { return s.remove(seq, true) }

// Size is the bytes on disk; Len the number of segments.
func (s *Spool) Size() int64 { s.mu.Lock(); defer s.mu.Unlock(); return s.size }
func (s *Spool) Len() int    { s.mu.Lock(); defer s.mu.Unlock(); return len(s.segs) }

func (s *Spool) sorted() []uint64 {
	out := make([]uint64, 0, len(s.segs))
	for q := range s.segs {
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (s *Spool) write(seg segment, sealed bool) (uint64, error) {
	data := encode(seg)
	s.mu.Lock()
	room := s.maxBytes - s.size
	for _, src := range seg.Sources {
		room += s.segs[src].size
	}
	if int64(len(data)) > room {
		s.mu.Unlock()
		return 0, ErrFull
	}
	seq := s.next
	s.next++
	s.mu.Unlock()

	if err := writeDurable(s.dir, s.name(seq, sealed), data); err != nil {
		return 0, fmt.Errorf("cannot write spool segment %d: %w", seq, err)
	}
	s.mu.Lock()
	s.segs[seq] = segInfo{size: int64(len(data)), sealed: sealed}
	s.size += int64(len(data))
	s.mu.Unlock()
	return seq, nil
}

func (s *Spool) read(seq uint64) (segment, error) {
	s.mu.Lock()
	info, ok := s.segs[seq]
	s.mu.Unlock()
	if !ok {
		return segment{}, fmt.Errorf("spool segment %d does not exist", seq)
	}
	data, err := os.ReadFile(filepath.Join(s.dir, s.name(seq, info.sealed)))
	if err != nil {
		return segment{}, fmt.Errorf("cannot read spool segment %d: %w", seq, err)
	}
	seg, err := decode(data)
	if err != nil {
		return segment{}, fmt.Errorf("cannot read spool segment %d: %w", seq, err)
	}
	return seg, nil
}

// remove deletes a segment. durable makes the deletion survive a power
// loss (an fsync of the directory, which also makes earlier deletions in it
// durable). Only a stored segment needs that: if it came back it would be
// sent again. A segment merged into a sealed one may come back harmlessly,
// as Open deletes the sources the sealed segment names, so sealing skips
// those fsyncs: on a one-core server each one blocks the only scheduler
// thread, and every request with it, for the length of the disk flush.
func (s *Spool) remove(seq uint64, durable bool) error {
	s.mu.Lock()
	info, ok := s.segs[seq]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	if err := os.Remove(filepath.Join(s.dir, s.name(seq, info.sealed))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot remove spool segment %d: %w", seq, err)
	}
	if durable {
		if err := syncDir(s.dir); err != nil {
			return err
		}
	}
	s.mu.Lock()
	delete(s.segs, seq)
	s.size -= info.size
	s.mu.Unlock()
	return nil
}

// writeDurable writes name atomically: temporary file, fsync, rename, fsync
// of the directory.
func writeDurable(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, name+".*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cannot open spool directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cannot sync spool directory: %w", err)
	}
	return nil
}
