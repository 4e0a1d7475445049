package spool

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"tally/aggregator"
)

// ErrFull is returned by Append when the segment would take the spool past
// its size bound.
var ErrFull = aggregator.ErrJournalFull

const (
	extOpen    = ".seg"
	extSealed  = ".sealed"
	extCorrupt = ".corrupt"
	lockName   = "lock"
)

// ownTemp matches the temporary files writeDurable makes (os.CreateTemp
// puts digits where the pattern has '*'): only these are deleted at start.
var ownTemp = regexp.MustCompile(`^([0-9]{20}\.(seg|sealed)|instance)\.[0-9]+\.tmp$`)

// Spool is a directory of segments. Safe for concurrent use.
type Spool struct {
	dir      string
	maxBytes int64
	instance string
	lock     *os.File

	mu          sync.Mutex
	next        uint64
	segs        map[uint64]segInfo
	size        int64
	quarantined []string
}

type segInfo struct {
	size     int64
	sealed   bool
	progress aggregator.Progress
}

// segment is the on-disk form.
type segment struct {
	Batch *aggregator.Batch
	// Sources are the segments merged into this one; they are deleted after
	// this one is durable, and deleted on Open if a crash left them.
	Sources []uint64
}

// Open opens or creates the spool in dir, bounded to maxBytes (> 0), and
// locks it: a second process (or a second Open) on the same directory gets
// an error until Close. Every segment is read once: one whose bytes are
// damaged is renamed to *.corrupt and listed by Quarantined, and the spool
// opens without it.
func Open(dir string, maxBytes int64) (*Spool, error) {
	if maxBytes <= 0 {
		return nil, errors.New("spool: size bound must be positive")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create spool directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, maxBytes: maxBytes, lock: lock, segs: map[uint64]segInfo{}}
	if err := s.load(); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// lockDir takes an exclusive flock on dir/lock. Two collectors on one spool
// would number segments alike and send each other's rows: refused.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	// Opened read-only: flock needs no write access, and a file open for
	// writing would keep the filesystem from being remounted read-only.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		if f, err = os.Open(path); err != nil {
			return nil, fmt.Errorf("cannot open spool lock: %w", err)
		}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("spool directory %s is in use by another collector process: give each collector its own SPOOL_DIR", dir)
		}
		return nil, fmt.Errorf("cannot lock spool directory: %w", err)
	}
	return f, nil
}

// Close releases the lock. The spool must not be used after it.
func (s *Spool) Close() error { return s.lock.Close() }

func (s *Spool) load() error {
	if err := s.loadInstance(); err != nil {
		return err
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("cannot read spool directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if ownTemp.MatchString(name) {
			os.Remove(filepath.Join(s.dir, name)) // a write that never finished
			continue
		}
		seq, info, ok := parseName(name)
		if !ok {
			continue // not ours: left alone
		}
		fi, err := e.Info()
		if err != nil {
			return fmt.Errorf("cannot stat spool segment %s: %w", name, err)
		}
		info.size = fi.Size()
		s.segs[seq] = info
		s.size += info.size
		if seq >= s.next {
			s.next = seq + 1
		}
	}
	// A merge that crashed after its result was durable leaves its sources:
	// they are already inside the merged segment.
	for _, seq := range s.sorted() {
		if _, ok := s.segs[seq]; !ok {
			continue // a source removed just before
		}
		seg, err := s.read(seq)
		if errors.Is(err, aggregator.ErrJournalCorrupt) {
			if err := s.Quarantine(seq); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		for _, src := range seg.Sources {
			if _, ok := s.segs[src]; ok && src != seq {
				if err := s.remove(src, false); err != nil {
					return err
				}
			}
		}
	}
	return nil
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

// Segment file names: NNNN.seg (open), NNNN.sealed (sealed, nothing sent),
// NNNN.XY.sealed (sealed, X and Y the progress of its web and email rows:
// p pending, s sending, d done). Progress lives in the name so that
// recording it is a rename, which needs no free space: it still works on
// a full disk.
const stateChars = "psd"

func parseName(name string) (uint64, segInfo, bool) {
	var info segInfo
	base, ok := strings.CutSuffix(name, extOpen)
	if !ok {
		if base, ok = strings.CutSuffix(name, extSealed); !ok {
			return 0, info, false
		}
		info.sealed = true
		if num, st, has := strings.Cut(base, "."); has {
			if len(st) != 2 || strings.IndexByte(stateChars, st[0]) < 0 || strings.IndexByte(stateChars, st[1]) < 0 {
				return 0, info, false
			}
			base = num
			info.progress = aggregator.Progress{
				Web:   aggregator.PartState(strings.IndexByte(stateChars, st[0])),
				Email: aggregator.PartState(strings.IndexByte(stateChars, st[1])),
			}
		}
	}
	if len(base) != 20 {
		return 0, info, false
	}
	seq, err := strconv.ParseUint(base, 10, 64)
	return seq, info, err == nil
}

func name(seq uint64, info segInfo) string {
	if !info.sealed {
		return fmt.Sprintf("%020d%s", seq, extOpen)
	}
	if info.progress == (aggregator.Progress{}) {
		return fmt.Sprintf("%020d%s", seq, extSealed)
	}
	return fmt.Sprintf("%020d.%c%c%s", seq, stateChars[info.progress.Web], stateChars[info.progress.Email], extSealed)
}

// Token is the deduplication token of a segment: the same for every retry
// of that segment, from this or a restarted collector, and different from
// every other collector's.
func (s *Spool) Token(seq uint64) string { return s.instance + "-" + strconv.FormatUint(seq, 10) }

// Append stores b as a new open segment and returns its number. Appends
// leave an eighth of the bound free, so that sealing (which writes the
// merged segment before it deletes the sources) fits in the bound too.
func (s *Spool) Append(b *aggregator.Batch) (uint64, error) {
	return s.write(segment{Batch: b}, false, s.maxBytes-s.maxBytes/8)
}

// Seal stores merged, the sum of the open segments in sources, as one new
// sealed segment, removes the sources and returns the new segment's number.
// The aggregator keeps the sum in memory as it appends, so that in the
// steady state sealing does not read the sources back. A single source is
// sealed by renaming it: no bytes are written, so that works on a full
// disk too.
func (s *Spool) Seal(sources []uint64, merged *aggregator.Batch) (uint64, error) {
	s.mu.Lock()
	for _, q := range sources {
		if info, ok := s.segs[q]; !ok || info.sealed {
			s.mu.Unlock()
			return 0, fmt.Errorf("spool segment %d is not an open segment", q)
		}
	}
	s.mu.Unlock()
	if len(sources) == 1 {
		return sources[0], s.rename(sources[0], segInfo{sealed: true})
	}
	seq, err := s.write(segment{Batch: merged, Sources: sources}, true, s.maxBytes)
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

// Read loads a segment's batch. A damaged segment gives an error wrapping
// aggregator.ErrJournalCorrupt.
func (s *Spool) Read(seq uint64) (*aggregator.Batch, error) {
	seg, err := s.read(seq)
	if err != nil {
		return nil, err
	}
	return seg.Batch, nil
}

// Progress is how far a sealed segment's writes got.
func (s *Spool) Progress(seq uint64) aggregator.Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.segs[seq].progress
}

// SetProgress records p in the segment's name (a rename and a directory
// fsync): durable when it returns.
func (s *Spool) SetProgress(seq uint64, p aggregator.Progress) error {
	return s.rename(seq, segInfo{sealed: true, progress: p})
}

func (s *Spool) rename(seq uint64, to segInfo) error {
	s.mu.Lock()
	info, ok := s.segs[seq]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("spool segment %d does not exist", seq)
	}
	to.size = info.size
	if err := os.Rename(filepath.Join(s.dir, name(seq, info)), filepath.Join(s.dir, name(seq, to))); err != nil {
		return fmt.Errorf("cannot record the state of spool segment %d: %w", seq, err)
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	s.mu.Lock()
	s.segs[seq] = to
	s.mu.Unlock()
	return nil
}

// Quarantine moves a damaged segment aside (NAME.corrupt, kept for an
// operator to look at, never read again) and forgets it.
func (s *Spool) Quarantine(seq uint64) error {
	s.mu.Lock()
	info, ok := s.segs[seq]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	n := name(seq, info)
	if err := os.Rename(filepath.Join(s.dir, n), filepath.Join(s.dir, n+extCorrupt)); err != nil {
		return fmt.Errorf("cannot move corrupt spool segment %s aside: %w", n, err)
	}
	s.mu.Lock()
	delete(s.segs, seq)
	s.size -= info.size
	s.quarantined = append(s.quarantined, n+extCorrupt)
	s.mu.Unlock()
	return nil
}

// Quarantined lists the corrupt segments moved aside since Open.
func (s *Spool) Quarantined() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.quarantined...)
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

// write stores seg as a new segment if the spool stays within limit bytes.
func (s *Spool) write(seg segment, sealed bool, limit int64) (uint64, error) {
	data := encode(seg)
	s.mu.Lock()
	if s.size+int64(len(data)) > limit {
		s.mu.Unlock()
		return 0, ErrFull
	}
	seq := s.next
	s.next++
	s.mu.Unlock()

	info := segInfo{size: int64(len(data)), sealed: sealed}
	if err := writeDurable(s.dir, name(seq, info), data); err != nil {
		return 0, fmt.Errorf("cannot write spool segment %d: %w", seq, err)
	}
	s.mu.Lock()
	s.segs[seq] = info
	s.size += info.size
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
	data, err := os.ReadFile(filepath.Join(s.dir, name(seq, info)))
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
	if err := os.Remove(filepath.Join(s.dir, name(seq, info))); err != nil && !errors.Is(err, os.ErrNotExist) {
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
