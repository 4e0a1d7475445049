// Package aggregator folds hits into additive counters in memory and writes
// them to a Sink in batches: on a timer, when the batch grows large, and on
// Stop. Only aggregates ever leave it: keys are (site, hour, dimension,
// value), never a person. It knows nothing of HTTP or of ClickHouse.
//
// One file per role: intake.go adds hits to the counters, journal.go syncs
// them to the Journal and seals journal segments, flush.go writes to the
// Sink; aggregator.go holds the contracts and the timers.
//
// # Where a counter row can be
//
//	      AddWeb / AddEmail
//	             │
//	             ▼
//	         current ──── sync, no journal ──────────────┐
//	             │                                        │
//	sync, journal has room          sync, journal full    │
//	             │                  or failing            ▼
//	             ▼                 ─────────────────────► held
//	     open segment (disk)                              │
//	+ journaled sum (memory,                  flushHeld    │ (fails: back
//	  dropped during an outage)               inflight ◄───┘  to held)
//	             │                                │
//	           seal                               │
//	             ▼                                │
//	    sealed segment (disk) ── sendSegment ──►  Sink  ◄┘
//	    (keeps its token until stored;            │
//	     web stored first, then the segment       ▼
//	     is rewritten with the email rows)      removed
//
// current, held and inflight are memory (Pending counts them, and the
// collector sheds hits above its bound); segments are disk. A row leaves
// memory for the journal every SyncInterval, so a crash loses at most that
// window; it leaves the journal only once the sink stored it. An ambiguous
// write (ErrAmbiguous) drops its rows instead of retrying them.
package aggregator
