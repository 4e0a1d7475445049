package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"tally/aggregator"
	"tally/counter"
)

// The segment format is a small binary encoding rather than encoding/gob:
// gob walks the maps by reflection and allocated for every key, and on a
// one-core server that burst, at every sync and flush, held up requests for
// tens of milliseconds (BENCHMARKS.md). This one appends to one buffer.
//
//	magic "TSP4"
//	uvarint n, n × uvarint                    sources
//	uvarint n, n × (str site, varint hour, str dimension, str value,
//	                varint hits, pageviews, visitors, visits,
//	                tracked_visits, bounces, exits, engaged_ms,
//	                engaged_views, scroll_sum, scroll_views,
//	                revenue)                                   web rows
//	uvarint n, n × (str site, str campaign, varint hour, str dimension,
//	                str value, varint sent, opens, unique_opens,
//	                machine_opens, clicks, unique_clicks,
//	                machine_clicks, implied_opens)             email rows
//	uint32 little-endian CRC-32C of everything before it
//
// where str is a uvarint length and the bytes. Older segments are still
// read, so a spool left by an older collector is replayed: "TSP1" ends each
// web row after visitors and each email row after machine_opens; "TSP2"
// (clicks counted) ends each web row after visitors; "TSP3" (visits
// counted) ends each web row after scroll_views. (Builds of the unmerged
// visits branch wrote another "TSP2", never released: such a segment is
// read as main's TSP2, and quarantined when it does not fit.)
const (
	magic   = "TSP4"
	magicV3 = "TSP3"
	magicV2 = "TSP2"
	magicV1 = "TSP1"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func encode(seg segment) []byte {
	b := seg.Batch
	// Rows are ~40 bytes (the visit counters are mostly 0, one byte
	// each); one allocation for a typical segment.
	buf := make([]byte, 0, 64+56*(len(b.Web)+len(b.Email))+10*len(seg.Sources))
	buf = append(buf, magic...)
	buf = binary.AppendUvarint(buf, uint64(len(seg.Sources)))
	for _, q := range seg.Sources {
		buf = binary.AppendUvarint(buf, q)
	}
	buf = binary.AppendUvarint(buf, uint64(len(b.Web)))
	for k, c := range b.Web {
		buf = appendString(buf, k.Site)
		buf = binary.AppendVarint(buf, k.Hour)
		buf = appendString(buf, k.Dimension)
		buf = appendString(buf, k.Value)
		buf = binary.AppendVarint(buf, c.Hits)
		buf = binary.AppendVarint(buf, c.Pageviews)
		buf = binary.AppendVarint(buf, c.Visitors)
		buf = binary.AppendVarint(buf, c.Visits)
		buf = binary.AppendVarint(buf, c.TrackedVisits)
		buf = binary.AppendVarint(buf, c.Bounces)
		buf = binary.AppendVarint(buf, c.Exits)
		buf = binary.AppendVarint(buf, c.EngagedMS)
		buf = binary.AppendVarint(buf, c.EngagedViews)
		buf = binary.AppendVarint(buf, c.ScrollSum)
		buf = binary.AppendVarint(buf, c.ScrollViews)
		buf = binary.AppendVarint(buf, c.Revenue)
	}
	buf = binary.AppendUvarint(buf, uint64(len(b.Email)))
	for k, c := range b.Email {
		buf = appendString(buf, k.Site)
		buf = appendString(buf, k.Campaign)
		buf = binary.AppendVarint(buf, k.Hour)
		buf = appendString(buf, k.Dimension)
		buf = appendString(buf, k.Value)
		buf = binary.AppendVarint(buf, c.Sent)
		buf = binary.AppendVarint(buf, c.Opens)
		buf = binary.AppendVarint(buf, c.UniqueOpens)
		buf = binary.AppendVarint(buf, c.MachineOpens)
		buf = binary.AppendVarint(buf, c.Clicks)
		buf = binary.AppendVarint(buf, c.UniqueClicks)
		buf = binary.AppendVarint(buf, c.MachineClicks)
		buf = binary.AppendVarint(buf, c.ImpliedOpens)
	}
	return binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, crcTable))
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

var errCorrupt = aggregator.ErrJournalCorrupt

// decode parses a segment. A file that does not end in the checksum of its
// contents is refused: a bit flip on disk must not become wrong counters.
func decode(data []byte) (segment, error) {
	if len(data) < len(magic)+4 {
		return segment{}, fmt.Errorf("%w: not a spool segment", errCorrupt)
	}
	version := string(data[:len(magic)])
	if version != magic && version != magicV3 && version != magicV2 && version != magicV1 {
		return segment{}, fmt.Errorf("%w: not a spool segment", errCorrupt)
	}
	revenue := version == magic
	visits, clicks := revenue || version == magicV3, version != magicV1
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return segment{}, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	d := decoder{buf: body[len(magic):]}
	seg := segment{Batch: aggregator.NewBatch()}
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		seg.Sources = append(seg.Sources, d.uvarint())
	}
	n = d.count()
	for i := 0; i < n && d.err == nil; i++ {
		k := counter.WebKey{Site: d.string(), Hour: d.varint(), Dimension: d.string(), Value: d.string()}
		c := counter.WebCounts{Hits: d.varint(), Pageviews: d.varint(), Visitors: d.varint()}
		if visits {
			c.Visits, c.TrackedVisits, c.Bounces, c.Exits = d.varint(), d.varint(), d.varint(), d.varint()
			c.EngagedMS, c.EngagedViews, c.ScrollSum, c.ScrollViews = d.varint(), d.varint(), d.varint(), d.varint()
		}
		if revenue {
			c.Revenue = d.varint()
		}
		if _, dup := seg.Batch.Web[k]; dup {
			d.fail("web rows: a key repeats")
		}
		seg.Batch.Web[k] = c
	}
	n = d.count()
	for i := 0; i < n && d.err == nil; i++ {
		k := counter.EmailKey{Site: d.string(), Campaign: d.string(), Hour: d.varint(), Dimension: d.string(), Value: d.string()}
		c := counter.EmailCounts{Sent: d.varint(), Opens: d.varint(), UniqueOpens: d.varint(), MachineOpens: d.varint()}
		if clicks {
			c.Clicks, c.UniqueClicks, c.MachineClicks, c.ImpliedOpens = d.varint(), d.varint(), d.varint(), d.varint()
		}
		if _, dup := seg.Batch.Email[k]; dup {
			d.fail("email rows: a key repeats")
		}
		seg.Batch.Email[k] = c
	}
	if d.err == nil && len(d.buf) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.buf))
	}
	if d.err != nil {
		return segment{}, d.err
	}
	return seg, nil
}

// decoder reads fields in order; after the first error every read returns
// zero and the error stays.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCorrupt, what)
	}
	d.buf = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("truncated number")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail("truncated number")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// count reads a number of items, refusing one the remaining bytes cannot
// hold (each item takes at least one byte), so a corrupt count cannot make
// a loop run for long.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.buf)) {
		d.fail("truncated list")
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.buf)) {
		d.fail("truncated string")
		return ""
	}
	s := string(d.buf[:n])
	d.buf = d.buf[n:]
	return s
}
