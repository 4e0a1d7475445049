package geo

import "sync/atomic"

// regionCache remembers the region read from recent database records, keyed
// by the record's offset in the database's data section. Reading the two
// paths out of a record costs several times the lookup of the network that
// points to it, and a database has few distinct records: every network of a
// region shares one. The key is the record, never the address.
//
// Direct-mapped, 4096 slots: a collision reads the record again. A Locator
// holds one for its database, whose offsets never change.
type regionCache struct {
	slots [4096]atomic.Pointer[regionEntry]
}

type regionEntry struct {
	offset uintptr
	region Region
}

func (c *regionCache) get(offset uintptr) (Region, bool) {
	if e := c.slots[offset%uintptr(len(c.slots))].Load(); e != nil && e.offset == offset {
		return e.region, true
	}
	return Region{}, false
}

func (c *regionCache) put(offset uintptr, r Region) {
	c.slots[offset%uintptr(len(c.slots))].Store(&regionEntry{offset: offset, region: r})
}
