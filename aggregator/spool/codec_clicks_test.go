package spool

import (
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"testing"

	"tally/aggregator"
	"tally/counter"
)

// TestCodecCarriesClicks: every email counter survives the spool.
func TestCodecCarriesClicks(t *testing.T) {
	b := aggregator.NewBatch()
	k := counter.EmailKey{Site: "example.com", Campaign: "spring", Hour: 7200, Dimension: counter.DimLink, Value: counter.LinkValue("cta", "shop.example.com/spring")}
	b.Email[k] = counter.EmailCounts{Opens: 2, UniqueOpens: 1, MachineOpens: 3, Clicks: 4, UniqueClicks: -5, MachineClicks: 6, ImpliedOpens: 1}
	in := segment{Batch: b}
	out, err := decode(encode(in))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the segment:\n in %+v\nout %+v", in, out)
	}
}

// TestCodecReadsV1: a segment written before clicks were counted (TSP1,
// four email counters a row) is replayed with its counts, clicks zero.
func TestCodecReadsV1(t *testing.T) {
	buf := []byte(magicV1)
	buf = binary.AppendUvarint(buf, 1) // sources
	buf = binary.AppendUvarint(buf, 9)
	buf = binary.AppendUvarint(buf, 0) // web rows
	buf = binary.AppendUvarint(buf, 1) // email rows
	for _, s := range []string{"example.com", "spring"} {
		buf = appendString(buf, s)
	}
	buf = binary.AppendVarint(buf, 3600)
	buf = appendString(buf, counter.DimTotal)
	buf = appendString(buf, "")
	for _, v := range []int64{1000, 5, 4, 9} {
		buf = binary.AppendVarint(buf, v)
	}
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, crcTable))
	seg, err := decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := seg.Batch.Email[counter.EmailKey{Site: "example.com", Campaign: "spring", Hour: 3600, Dimension: counter.DimTotal}]
	if want := (counter.EmailCounts{Sent: 1000, Opens: 5, UniqueOpens: 4, MachineOpens: 9}); got != want || !reflect.DeepEqual(seg.Sources, []uint64{9}) {
		t.Fatalf("v1 segment read as %+v %v, want %+v", got, seg.Sources, want)
	}
}

// TestCodecReadsV2: a segment written with clicks but before the visit
// counters (TSP2: three web counters, eight email counters a row) is
// replayed with its counts, the visit counters zero.
func TestCodecReadsV2(t *testing.T) {
	buf := []byte(magicV2)
	buf = binary.AppendUvarint(buf, 0) // sources
	buf = binary.AppendUvarint(buf, 1) // web rows
	buf = appendString(buf, "example.com")
	buf = binary.AppendVarint(buf, 7200)
	buf = appendString(buf, counter.DimPath)
	buf = appendString(buf, "/a")
	for _, v := range []int64{3, 2, 1} {
		buf = binary.AppendVarint(buf, v)
	}
	buf = binary.AppendUvarint(buf, 1) // email rows
	for _, s := range []string{"example.com", "spring"} {
		buf = appendString(buf, s)
	}
	buf = binary.AppendVarint(buf, 3600)
	buf = appendString(buf, counter.DimTotal)
	buf = appendString(buf, "")
	for _, v := range []int64{1000, 5, 4, 9, 7, 6, 2, 1} {
		buf = binary.AppendVarint(buf, v)
	}
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, crcTable))
	seg, err := decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	web := seg.Batch.Web[counter.WebKey{Site: "example.com", Hour: 7200, Dimension: counter.DimPath, Value: "/a"}]
	if want := (counter.WebCounts{Hits: 3, Pageviews: 2, Visitors: 1}); web != want || len(seg.Batch.Web) != 1 {
		t.Fatalf("v2 web row read as %+v, want %+v", web, want)
	}
	email := seg.Batch.Email[counter.EmailKey{Site: "example.com", Campaign: "spring", Hour: 3600, Dimension: counter.DimTotal}]
	if want := (counter.EmailCounts{Sent: 1000, Opens: 5, UniqueOpens: 4, MachineOpens: 9, Clicks: 7, UniqueClicks: 6, MachineClicks: 2, ImpliedOpens: 1}); email != want {
		t.Fatalf("v2 email row read as %+v, want %+v", email, want)
	}
}

// TestCodecReadsV3: a segment written with the visit counters but before
// revenue (TSP3: eleven web counters a row) is replayed with its counts,
// revenue zero.
func TestCodecReadsV3(t *testing.T) {
	buf := []byte(magicV3)
	buf = binary.AppendUvarint(buf, 0) // sources
	buf = binary.AppendUvarint(buf, 1) // web rows
	buf = appendString(buf, "example.com")
	buf = binary.AppendVarint(buf, 7200)
	buf = appendString(buf, counter.DimPath)
	buf = appendString(buf, "/a")
	for _, v := range []int64{3, 2, 1, 4, 5, -6, -7, 8000, 9, 100, 11} {
		buf = binary.AppendVarint(buf, v)
	}
	buf = binary.AppendUvarint(buf, 0) // email rows
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, crcTable))
	seg, err := decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	web := seg.Batch.Web[counter.WebKey{Site: "example.com", Hour: 7200, Dimension: counter.DimPath, Value: "/a"}]
	want := counter.WebCounts{Hits: 3, Pageviews: 2, Visitors: 1, Visits: 4, TrackedVisits: 5, Bounces: -6, Exits: -7,
		EngagedMS: 8000, EngagedViews: 9, ScrollSum: 100, ScrollViews: 11}
	if web != want || len(seg.Batch.Web) != 1 {
		t.Fatalf("v3 web row read as %+v, want %+v", web, want)
	}
	// A TSP3 body under the new magic is one number short a row: refused.
	bad := append([]byte(magic), buf[len(magicV3):len(buf)-4]...)
	bad = binary.LittleEndian.AppendUint32(bad, crc32.Checksum(bad, crcTable))
	if _, err := decode(bad); err == nil {
		t.Fatal("a short row under the new magic was read")
	}
}
