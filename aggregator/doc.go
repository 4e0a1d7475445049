// Package aggregator folds hits into additive counters in memory and writes
// them to a Sink in batches: on a timer, when the batch grows large, and on
// Stop. Only aggregates ever leave it: keys are (site, hour, dimension,
// value), never a person. It knows nothing of HTTP or of ClickHouse.
//
// One file per role: intake.go adds hits to the counters, cap.go bounds
// the distinct values of a free-text dimension per site and hour (the
// rest count as "(other)"), journal.go syncs them to the Journal and seals journal
// segments, flush.go writes to the Sink; aggregator.go holds the
// contracts, the timers and the health.
//
// # Where a counter row can be
//
//	AddWeb / AddEmail
//	      │
//	      ▼
//	   current ── sync (every SyncInterval, on its own goroutine) ──┐
//	      │ no journal, or the journal refuses (full, failing)      │
//	      ▼                                                         ▼
//	    held (memory)                             open segment (disk), and its
//	      │ flush: cut into chunks,               sum in memory (dropped during
//	      │ each given a token                    an outage: a backlog costs disk)
//	      ▼                                                         │ flush: seal up to
//	    queue (memory) ── write ──► Sink                            │ FlushRows rows into one
//	      │ a failed write is retried as it                         ▼
//	      │ was: same rows, same token                sealed segment (disk), token
//	      ▼                                           and per-table progress in its
//	   stored, or dropped as ambiguous                name: pending → sending → done
//	                                                                │ write web, then email
//	                                                                ▼
//	                                                  removed once both are done
//
// current, held, queue and the chunk being replayed are memory: Pending
// counts them and the collector sheds hits above its bound. A row reaches
// the journal within SyncInterval whatever a flush is doing, so a crash
// loses at most that window; it leaves the journal only once the sink
// stored it.
//
// # Never twice
//
// Every write carries a token, the same for every retry of the same rows
// and different for any other write (a sealed segment's comes from the
// spool, a chunk from memory gets a random one), so a server that
// deduplicates never takes two writes of equal rows for one, and drops a
// resent one. On a server that cannot (ErrAmbiguous; ClickHouse before
// 22.2), the start of each segment write is recorded in the journal before
// it is sent: a write found "sending" after a crash, or one that ended in
// an unknown outcome, is dropped rather than resent, its hits counted in
// Stats.AmbiguousHits. The loss is then at most one chunk per such write,
// never a double count. A journal that cannot record a write holds its
// segment back (it waits on disk); one that cannot record a stored write
// keeps the progress in memory, so this process never resends it.
//
// # When the disk fails
//
// A journal that cannot be written (read-only, full, errors) does not stop
// the counting: rows go to the sink from memory (Degraded reports it, and a
// crash then loses up to a flush interval instead of a sync interval), and
// sealing falls back to renaming single segments, which needs no room.
package aggregator
