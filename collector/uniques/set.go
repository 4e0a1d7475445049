package uniques

import "math/bits"

// The tables below are open-addressing hash tables of uint64 keys with
// linear probing. Keys are already keyed hashes (uniformly random to anyone
// without the key), so no seeded hash is needed: the slot is the high bits
// of the key times an odd constant (Fibonacci hashing, a bijection that
// also spreads structured keys such as small integers), scaled to the table
// size with a multiply-shift. 0 marks an empty slot; callers map a 0 key
// to 1.
//
// A table grows by half when it is 80% full, so its load stays between
// 53% and 80%: a set costs 10 to 15 bytes per key (8 / load), where Go's
// map[uint64]struct{} measured 24 to 38. Linear probing at 80% costs about
// 3 slots for a hit and 13 for a miss on average, and the slots are
// adjacent: one or two cache lines.
const (
	minSlots  = 16
	loadNum   = 4 // grow past loadNum/loadDen full
	loadDen   = 5
	growNum   = 3 // by growNum/growDen
	growDen   = 2
	shrinkDen = 5 // Opens: rebuild smaller when below 1/shrinkDen full
)

// home is the first slot probed for k in a table of n slots.
func home(k uint64, n int) int {
	hi, _ := bits.Mul64(k*0x9e3779b97f4a7c15, uint64(n))
	return int(hi)
}

// grownSize is the table size for holding n keys within the load bound.
func grownSize(cur, n int) int {
	size := max(cur, minSlots)
	for n*loadDen > size*loadNum {
		size = size * growNum / growDen
	}
	return size
}

// set64 is a set of non-zero uint64 keys. Not safe for concurrent use.
type set64 struct {
	slots []uint64
	n     int
}

// add inserts k (non-zero) and reports whether it was new, and by how many
// bytes the table grew.
func (s *set64) add(k uint64) (added bool, grew int) {
	if (s.n+1)*loadDen > len(s.slots)*loadNum {
		grew = s.resize(grownSize(len(s.slots), s.n+1))
	}
	n := len(s.slots)
	for i := home(k, n); ; {
		switch s.slots[i] {
		case k:
			return false, grew
		case 0:
			s.slots[i] = k
			s.n++
			return true, grew
		}
		if i++; i == n {
			i = 0
		}
	}
}

// has reports whether k is in the set.
func (s *set64) has(k uint64) bool {
	n := len(s.slots)
	if n == 0 {
		return false
	}
	for i := home(k, n); ; {
		switch s.slots[i] {
		case k:
			return true
		case 0:
			return false
		}
		if i++; i == n {
			i = 0
		}
	}
}

// resize rehashes into size slots and returns the change in bytes.
func (s *set64) resize(size int) int {
	old := s.slots
	s.slots = make([]uint64, size)
	for _, k := range old {
		if k != 0 {
			for i := home(k, size); ; {
				if s.slots[i] == 0 {
					s.slots[i] = k
					break
				}
				if i++; i == size {
					i = 0
				}
			}
		}
	}
	clear(old)
	return 8 * (size - len(old))
}

// wipe overwrites every key and releases the table; it returns the bytes
// released.
func (s *set64) wipe() int {
	b := 8 * len(s.slots)
	clear(s.slots)
	s.slots, s.n = nil, 0
	return b
}

// stampMap maps non-zero uint64 keys to uint32 stamps, in two parallel
// arrays: 12 bytes a slot. Not safe for concurrent use.
type stampMap struct {
	keys   []uint64
	stamps []uint32
	n      int
}

const slotBytes = 8 + 4

// get returns k's stamp. A nil map is empty.
func (m *stampMap) get(k uint64) (uint32, bool) {
	if m == nil {
		return 0, false
	}
	n := len(m.keys)
	if n == 0 {
		return 0, false
	}
	for i := home(k, n); ; {
		switch m.keys[i] {
		case k:
			return m.stamps[i], true
		case 0:
			return 0, false
		}
		if i++; i == n {
			i = 0
		}
	}
}

// put sets k's stamp and returns by how many bytes the table grew.
func (m *stampMap) put(k uint64, stamp uint32) (grew int) {
	if (m.n+1)*loadDen > len(m.keys)*loadNum {
		grew = m.resize(grownSize(len(m.keys), m.n+1))
	}
	n := len(m.keys)
	for i := home(k, n); ; {
		switch m.keys[i] {
		case k:
			m.stamps[i] = stamp
			return grew
		case 0:
			m.keys[i], m.stamps[i] = k, stamp
			m.n++
			return grew
		}
		if i++; i == n {
			i = 0
		}
	}
}

func (m *stampMap) resize(size int) int {
	oldKeys, oldStamps := m.keys, m.stamps
	m.keys, m.stamps = make([]uint64, size), make([]uint32, size)
	for j, k := range oldKeys {
		if k == 0 {
			continue
		}
		for i := home(k, size); ; {
			if m.keys[i] == 0 {
				m.keys[i], m.stamps[i] = k, oldStamps[j]
				break
			}
			if i++; i == size {
				i = 0
			}
		}
	}
	clear(oldKeys)
	clear(oldStamps)
	return slotBytes * (size - len(oldKeys))
}

// deleteIf removes every entry whose stamp satisfies expired, then shrinks
// a mostly empty table. It returns the change in bytes (zero or negative).
//
// Deletion shifts the following entries of the probe run back into the
// hole (no tombstones), so lookups stay as short as in a fresh table. The
// slot just refilled is examined again; an entry is only ever moved into a
// slot that is being examined or was examined already, so each live entry
// is tested at least once.
func (m *stampMap) deleteIf(expired func(uint32) bool) int {
	n := len(m.keys)
	for i := 0; i < n; {
		if m.keys[i] == 0 || !expired(m.stamps[i]) {
			i++
			continue
		}
		m.n--
		hole := i
		for j := hole + 1; ; j++ {
			if j == n {
				j = 0
			}
			k := m.keys[j]
			if k == 0 {
				break
			}
			// k may fill the hole if its home is not after the hole on
			// its way to j (cyclically).
			if (j-home(k, n)+n)%n >= (j-hole+n)%n {
				m.keys[hole], m.stamps[hole] = k, m.stamps[j]
				hole = j
			}
		}
		m.keys[hole], m.stamps[hole] = 0, 0
		// Do not advance: slot i holds a shifted entry or is empty.
	}
	if len(m.keys) > minSlots && m.n*shrinkDen < len(m.keys) {
		size := grownSize(minSlots, m.n+m.n/2)
		return m.resize(size)
	}
	return 0
}

// len is the number of entries. A nil map is empty.
func (m *stampMap) len() int {
	if m == nil {
		return 0
	}
	return m.n
}

// release overwrites every entry and drops the table; it returns the
// bytes released.
func (m *stampMap) release() int {
	b := slotBytes * len(m.keys)
	clear(m.keys)
	clear(m.stamps)
	m.keys, m.stamps, m.n = nil, nil, 0
	return b
}
