package uniques

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// HandoverFile is the name of the handover file in the spool directory.
const HandoverFile = "uniques.handover"

// A graceful restart on the same UTC day must not count anyone twice. The
// day's memory (the visitors' salt, as its HMAC states, the pair seed,
// every pair and each site's count of them; the opens' and clicks' keys
// and what they remember, site by site) crosses the restart through one
// file, and only through it:
//
//   - SaveDay writes it at shutdown, after the last hit: mode 0600, to a
//     temporary file that is synced and renamed, so a crash during the
//     write leaves no half file under the name;
//   - RestoreDay reads it at start, before the first hit, and deletes it
//     whatever it holds: a file never survives a start, nor does the
//     temporary file of a save that was cut short. A file of another
//     day is deleted unread (only its day is looked at): yesterday's salt
//     must not come back. A damaged file is deleted and the day starts
//     empty.
//
// The file holds the same secrets as the process memory did, no address,
// no user agent and no recipient token. A crash (no SaveDay) loses the
// day's memory, as before: visitors, openers and clickers seen before it
// count again after it. The clicks' Group key is not saved: it ties a
// recipient's clicks together for seconds, and the held clicks were
// decided before the save.
//
// Layout: "THO2", the UTC day (varint); the visitors' key (two
// length-prefixed SHA-256 states), seed (8 bytes), sites (uvarint count,
// name and uvarint pairs each) and pairs (uvarint count, 8 bytes each);
// then three open memories (opens, clicks per campaign, clicks per link),
// each its key, base (varint) and sites (uvarint count; name, uvarint
// count, and 8-byte key and 4-byte stamp each); then a CRC-32C of all
// before.
const handoverMagic = "THO2"

var handoverCRC = crc32.MakeTable(crc32.Castagnoli)

// Day is the memory that crosses a graceful restart.
type Day struct {
	Visitors *Visitors
	Opens    *Opens
	Clicks   *Clicks
}

// opens lists the open memories in the file's order.
func (d Day) opens() [3]*Opens {
	return [3]*Opens{d.Opens, d.Clicks.campaign, d.Clicks.link}
}

// SaveDay writes the day's memory to path. Call it when no hit can arrive
// any more.
func SaveDay(path string, day Day) (err error) {
	dir, name := filepath.Split(path)
	tmp, err := os.CreateTemp(dir, name+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("cannot create the handover file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("cannot restrict the handover file: %w", err)
	}
	crc := crc32.New(handoverCRC)
	w := &handoverWriter{w: bufio.NewWriterSize(io.MultiWriter(tmp, crc), 1<<16)}
	w.bytes([]byte(handoverMagic))
	d := day.Visitors.current()
	w.varint(d.day)
	if !d.write(w) {
		return errors.New("cannot save the day's visitors: the day ended during the save")
	}
	for _, o := range day.opens() {
		o.write(w)
	}
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if w.err == nil {
		var sum [4]byte
		binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
		_, w.err = tmp.Write(sum[:])
	}
	if w.err != nil {
		return fmt.Errorf("cannot write the handover file: %w", w.err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("cannot sync the handover file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write the handover file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("cannot put the handover file in place: %w", err)
	}
	if df, err := os.Open(filepath.Clean(dir)); err == nil {
		df.Sync()
		df.Close()
	}
	return nil
}

// ErrHandoverStale is returned by RestoreDay for a file of another day,
// which it deleted unread.
var ErrHandoverStale = errors.New("the handover file is from another day: deleted unread")

// RestoreDay loads the day's memory from path into day, which must not
// have counted anything yet, and deletes the file whatever it holds. It
// reports whether a file was restored; no file is not an error.
func RestoreDay(path string, day Day) (restored bool, err error) {
	// A save cut short (kill -9, power loss) leaves its temporary file,
	// holding the same secrets: it never outlives the next start either.
	var leftovers error
	if tmps, _ := filepath.Glob(path + ".*.tmp"); len(tmps) > 0 {
		for _, t := range tmps {
			leftovers = errors.Join(leftovers, remove(t))
		}
	}
	defer func() { err = errors.Join(err, leftovers) }()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, errors.Join(fmt.Errorf("cannot open the handover file: %w", err), remove(path))
	}
	defer func() {
		f.Close()
		err = errors.Join(err, remove(path))
	}()
	crc := crc32.New(handoverCRC)
	r := &handoverReader{r: bufio.NewReaderSize(f, 1<<16), crc: crc}
	if string(r.bytes(len(handoverMagic))) != handoverMagic || r.err != nil {
		return false, errors.New("the handover file is not one: deleted")
	}
	today := r.varint()
	if r.err != nil || today != dayOf(day.Visitors.now()) {
		return false, ErrHandoverStale
	}
	vd := &visitorDay{day: today}
	vd.read(r)
	var ops [3]openState
	for i := range ops {
		ops[i].read(r)
	}
	want := crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(r.r, sum[:]); r.err == nil && err != nil {
		r.err = err
	}
	if _, err := r.r.ReadByte(); r.err == nil && err != io.EOF {
		r.err = errors.New("trailing bytes")
	}
	if r.err == nil && binary.LittleEndian.Uint32(sum[:]) != want {
		r.err = errors.New("checksum mismatch")
	}
	for i := range ops {
		if r.err == nil {
			r.err = ops[i].key.check()
		}
	}
	if r.err == nil {
		r.err = vd.key.check()
	}
	if r.err != nil {
		vd.destroy()
		for i := range ops {
			ops[i].destroy()
		}
		return false, fmt.Errorf("the handover file is damaged (%w): deleted, the day starts empty", r.err)
	}
	day.Visitors.restore(vd)
	for i, o := range day.opens() {
		o.restore(&ops[i])
	}
	return true, nil
}

func remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot delete the handover file: %w", err)
	}
	return nil
}

// write saves the day's key, seed and pairs; false if the day ended.
func (d *visitorDay) write(w *handoverWriter) bool {
	d.keyMu.RLock()
	if d.key.inner == nil {
		d.keyMu.RUnlock()
		return false
	}
	w.str(d.key.inner)
	w.str(d.key.outer)
	d.keyMu.RUnlock()
	w.u64(d.seed)
	var sites map[string]*siteCount
	if m := d.sites.Load(); m != nil {
		sites = *m
	}
	w.uvarint(uint64(len(sites)))
	for name, sc := range sites {
		w.str([]byte(name))
		w.uvarint(uint64(sc.n.Load()))
	}
	w.uvarint(uint64(d.pairs.Load()))
	written := uint64(0)
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		for _, k := range sh.set.slots {
			if k != 0 {
				w.u64(k)
				written++
			}
		}
		sh.mu.Unlock()
	}
	if written != uint64(d.pairs.Load()) && w.err == nil {
		w.err = errors.New("the pair count changed during the save")
	}
	return true
}

func (d *visitorDay) read(r *handoverReader) {
	d.key = macKey{inner: r.str(), outer: r.str()}
	d.seed = r.u64()
	sites := make(map[string]*siteCount)
	for range r.count() {
		name, n := string(r.str()), r.uvarint()
		if r.err != nil {
			return
		}
		sc := &siteCount{}
		sc.n.Store(int64(min(n, maxItems)))
		sites[name] = sc
	}
	d.sites.Store(&sites)
	n := r.count()
	for range n {
		k := r.u64()
		if r.err != nil {
			return
		}
		if k == 0 {
			r.err = errors.New("a zero pair")
			return
		}
		sh := &d.shards[k%shards]
		if added, grew := sh.set.add(k); added {
			d.pairs.Add(1)
			d.bytes.Add(int64(grew))
		} else {
			d.bytes.Add(int64(grew))
		}
	}
}

// restore replaces the day's memory with d (read from a handover).
func (v *Visitors) restore(d *visitorDay) {
	v.rotating.Lock()
	defer v.rotating.Unlock()
	old := v.today.Swap(d)
	old.destroy()
}

// openState is an open memory as read from a handover.
type openState struct {
	key   macKey
	base  int64
	sites map[string]*stampMap
	bytes int
	n     int
}

func (o *Opens) write(w *handoverWriter) {
	o.mu.Lock()
	defer o.mu.Unlock()
	w.str(o.key.inner)
	w.str(o.key.outer)
	w.varint(o.base)
	w.uvarint(uint64(len(o.sites)))
	for site, m := range o.sites {
		w.str([]byte(site))
		w.uvarint(uint64(m.len()))
		for i, k := range m.keys {
			if k != 0 {
				w.u64(k)
				w.u32(m.stamps[i])
			}
		}
	}
}

func (s *openState) read(r *handoverReader) {
	s.key = macKey{inner: r.str(), outer: r.str()}
	s.base = r.varint()
	s.sites = map[string]*stampMap{}
	for range r.count() {
		site := string(r.str())
		m := &stampMap{}
		for range r.count() {
			k, st := r.u64(), r.u32()
			if r.err != nil {
				return
			}
			if k == 0 {
				r.err = errors.New("a zero open")
				return
			}
			before := m.len()
			s.bytes += m.put(k, st)
			s.n += m.len() - before
		}
		if r.err != nil {
			return
		}
		s.sites[site] = m
	}
}

// destroy forgets a state that will not be restored.
func (s *openState) destroy() {
	s.key.destroy()
	clear(s.sites)
}

// restore replaces the memory's key and tables with s. The window is this
// process's; opens older than it go at the next sweep.
func (o *Opens) restore(s *openState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.key.destroy()
	o.key, o.base, o.sites = s.key, s.base, s.sites
	o.bytes.Store(int64(s.bytes))
	o.n.Store(int64(s.n))
	o.lastSweep = 0 // sweep at the next open
}

// handoverWriter and handoverReader keep the first error and do nothing
// after it.
type handoverWriter struct {
	w   *bufio.Writer
	err error
	buf [binary.MaxVarintLen64]byte
}

func (w *handoverWriter) bytes(b []byte) {
	if w.err == nil {
		_, w.err = w.w.Write(b)
	}
}
func (w *handoverWriter) varint(v int64)   { w.bytes(binary.AppendVarint(w.buf[:0], v)) }
func (w *handoverWriter) uvarint(v uint64) { w.bytes(binary.AppendUvarint(w.buf[:0], v)) }
func (w *handoverWriter) u64(v uint64)     { w.bytes(binary.LittleEndian.AppendUint64(w.buf[:0], v)) }
func (w *handoverWriter) u32(v uint32)     { w.bytes(binary.LittleEndian.AppendUint32(w.buf[:0], v)) }
func (w *handoverWriter) str(b []byte)     { w.uvarint(uint64(len(b))); w.bytes(b) }

type handoverReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	err error
	buf [8]byte
}

func (r *handoverReader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	return r.into(make([]byte, n))
}

// into reads len(b) bytes into b.
func (r *handoverReader) into(b []byte) []byte {
	if r.err != nil {
		return nil
	}
	if _, err := io.ReadFull(r.r, b); err != nil {
		r.err = err
		return nil
	}
	r.crc.Write(b)
	return b
}

func (r *handoverReader) byteReader() io.ByteReader { return crcByteReader{r} }

type crcByteReader struct{ r *handoverReader }

func (c crcByteReader) ReadByte() (byte, error) {
	b, err := c.r.r.ReadByte()
	if err == nil {
		c.r.buf[0] = b
		c.r.crc.Write(c.r.buf[:1])
	}
	return b, err
}

func (r *handoverReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(r.byteReader())
	r.err = err
	return v
}

func (r *handoverReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(r.byteReader())
	r.err = err
	return v
}

func (r *handoverReader) u64() uint64 {
	if b := r.into(r.buf[:8]); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *handoverReader) u32() uint32 {
	if b := r.into(r.buf[:4]); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

// maxState bounds a saved SHA-256 state or a site name: a damaged length
// must not make a huge allocation.
const maxState = 256

func (r *handoverReader) str() []byte {
	n := r.uvarint()
	if n > maxState {
		if r.err == nil {
			r.err = errors.New("a key state or site name too long")
		}
		return nil
	}
	return r.bytes(int(n))
}

// maxItems bounds a count read from the file (no table is that large).
const maxItems = 1 << 31

// count reads a number of items.
func (r *handoverReader) count() int {
	n := r.uvarint()
	if n > maxItems && r.err == nil {
		r.err = fmt.Errorf("a count of %d items", n)
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}
