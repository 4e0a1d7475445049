// Package memsink is the one in-memory aggregator.Sink of the tests. It
// stands in for ClickHouse only where a test is about something else (the
// pipeline, the handlers, the flushing logic); the ClickHouse sink and
// everything end to end are tested against a real server.
package memsink

import (
	"context"
	"fmt"
	"sync"

	"tally/aggregator"
	"tally/counter"
)

// Sink sums what it stores, records every write's token, and fails as told.
// The zero value is ready to use. Safe for concurrent use.
type Sink struct {
	mu     sync.Mutex
	fail   func(b *aggregator.Batch, token string) error
	hang   <-chan struct{}
	after  func()
	dedup  bool
	seen   map[string]bool
	tokens []string
	writes int
	web    map[counter.WebKey]counter.WebCounts
	email  map[counter.EmailKey]counter.EmailCounts
}

// Write stores b unless the failure hook returns an error. With Dedup set,
// a token already stored is acknowledged and not stored again, as a server
// that deduplicates inserts does.
func (s *Sink) Write(ctx context.Context, b *aggregator.Batch, token string) error {
	s.mu.Lock()
	hang := s.hang
	s.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-ctx.Done():
			return fmt.Errorf("memsink: write abandoned: %w", ctx.Err())
		}
	}
	if err := s.store(b, token); err != nil {
		return err
	}
	s.mu.Lock()
	after := s.after
	s.mu.Unlock()
	if after != nil {
		after()
	}
	return nil
}

func (s *Sink) store(b *aggregator.Batch, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	s.tokens = append(s.tokens, token)
	if s.fail != nil {
		if err := s.fail(b, token); err != nil {
			return err
		}
	}
	if s.dedup && token != "" {
		if s.seen[token] {
			return nil
		}
		if s.seen == nil {
			s.seen = map[string]bool{}
		}
		s.seen[token] = true
	}
	if s.web == nil {
		s.web = map[counter.WebKey]counter.WebCounts{}
		s.email = map[counter.EmailKey]counter.EmailCounts{}
	}
	for k, c := range b.Web {
		cur := s.web[k]
		cur.Add(c)
		s.web[k] = cur
	}
	for k, c := range b.Email {
		cur := s.email[k]
		cur.Add(c)
		s.email[k] = cur
	}
	return nil
}

// FailWith makes every later write call f first; a non-nil error fails the
// write and stores nothing. nil restores normal writes.
func (s *Sink) FailWith(f func(b *aggregator.Batch, token string) error) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

// HangUntil makes every later write wait until ch is closed (or its
// context ends, and then fail), as a server that stopped answering does.
// nil restores normal writes.
func (s *Sink) HangUntil(ch <-chan struct{}) { s.mu.Lock(); s.hang = ch; s.mu.Unlock() }

// AfterWrite makes every later successful write call f after the rows are
// stored and before the caller learns it: where a crash between a stored
// insert and the caller's bookkeeping happens. nil removes it.
func (s *Sink) AfterWrite(f func()) { s.mu.Lock(); s.after = f; s.mu.Unlock() }

// Deduplicates reports whether Dedup is on (aggregator.Deduplicator).
func (s *Sink) Deduplicates(context.Context) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dedup, nil
}

// Dedup makes the sink acknowledge without storing a write whose non-empty
// token it has stored before.
func (s *Sink) Dedup(on bool) { s.mu.Lock(); s.dedup = on; s.mu.Unlock() }

// Web returns the stored counts of one web row.
func (s *Sink) Web(k counter.WebKey) counter.WebCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.web[k]
}

// Email returns the stored counts of one email row.
func (s *Sink) Email(k counter.EmailKey) counter.EmailCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.email[k]
}

// WebRows returns a copy of every stored web row.
func (s *Sink) WebRows() map[counter.WebKey]counter.WebCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[counter.WebKey]counter.WebCounts, len(s.web))
	for k, c := range s.web {
		out[k] = c
	}
	return out
}

// EmailRows returns a copy of every stored email row.
func (s *Sink) EmailRows() map[counter.EmailKey]counter.EmailCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[counter.EmailKey]counter.EmailCounts, len(s.email))
	for k, c := range s.email {
		out[k] = c
	}
	return out
}

// TakeWebRows returns every stored web row and forgets them, so that a
// test sees what its next hits add.
func (s *Sink) TakeWebRows() map[counter.WebKey]counter.WebCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.web
	s.web = nil
	s.email = nil
	if out == nil {
		out = map[counter.WebKey]counter.WebCounts{}
	}
	return out
}

// Writes is the number of Write calls, failed ones included.
func (s *Sink) Writes() int { s.mu.Lock(); defer s.mu.Unlock(); return s.writes }

// Tokens returns the token of every Write call, in order.
func (s *Sink) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens...)
}
