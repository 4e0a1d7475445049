// Package journey owns the per-visitor state of the day that attribution
// and funnels need: one request cannot tell where the visit of a
// conversion came from, nor which funnel steps its visitor passed before.
//
// What is kept: for each visitor whose hits compute the daily visitor key
// (uniques.Visitor.Key, a keyed 64-bit MAC of the day: never the address
// or the user agent; the site's consent decision must allow it), the
// current visit's source, UTM campaign and entry path, and for each of the
// site's funnels (at most goals.MaxFunnels) the highest step reached (0 to
// goals.MaxSteps, four bits). The visit is the last one that started
// today (a page view with an empty or external referrer, collector/visits'
// Entry): attribution is last touch within the day. A conversion of a
// visitor with no visit today is attributed to Unknown.
//
// Funnels: a visitor at step k-1 (0: none) whose hit matches step k
// reaches k. One hit moves a funnel one step at most; a hit that matches a
// later step is not remembered, so hits out of order do not advance it.
// The state only grows within the day, so each step is reached once a
// visitor a day.
//
// Memory only, one day: the state lives in memory, keyed by the visitor
// key, and a new UTC day starts empty: the old day's maps are cleared and
// dropped at the first hit (or gauge read) of the new day, with the
// visitor keys whose salt uniques destroys at the same moment. Nothing of
// it is written anywhere: a restart or a crash loses the day's journeys
// (a visitor's conversions after a restart count as Unknown until their
// next visit starts, and their funnels start again from step 0).
//
// Memory bound: each site holds at most its share of visitors a day
// (ingest gives each site an equal share of MAX_JOURNEYS, as for the
// visitor pairs). A visitor first seen once its site's share is full gets
// no state: its conversions count as Unknown and its funnels do not
// move (Result.Shed, Journeys.Shed). The hit itself is still counted.
//
// Size: a visitor's state is 24 bytes (three 32-bit value ids and ten
// bytes of funnel steps, no pointer) under an 8-byte key, in Go maps
// split in 64 shards with a lock each: 52 to 84 bytes a visitor, measured
// from 100,000 to 1,000,000 visitors (the maps' slack between growths;
// TestBytesPerVisitor measures 200,000), so the default MAX_JOURNEYS of
// 2,000,000 is at most about 170 MB plus the interned values.
// Sources, campaigns and entry paths are interned per site (each distinct
// value once a day, only new values allocate), at most three values per
// visitor of the share; past that a new visit's values are counted as
// counter.Overflow.
//
// Cost: a known visitor with known values costs a map lookup and store
// under the shard's lock and one match per funnel (its next step); no
// allocation (BenchmarkRecord).
package journey
