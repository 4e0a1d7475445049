package ingest

import (
	"maps"
	"sync"
	"sync/atomic"
)

// webmailNames holds "Webmail (<browser>)" for each browser family seen, so
// that an open does not build the string every time. Browser families are
// a small fixed set (the classifier's table), so the map stays small; it is
// copied on write and read without a lock.
type webmailNames struct {
	mu    sync.Mutex
	names atomic.Pointer[map[string]string]
}

func (w *webmailNames) name(browser string) string {
	if m := w.names.Load(); m != nil {
		if n, ok := (*m)[browser]; ok {
			return n
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	old := w.names.Load()
	next := make(map[string]string, 1)
	if old != nil {
		if n, ok := (*old)[browser]; ok {
			return n
		}
		maps.Copy(next, *old)
	}
	n := "Webmail (" + browser + ")"
	next[browser] = n
	w.names.Store(&next)
	return n
}
