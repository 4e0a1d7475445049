package goals

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Registry is every site's Set: the sites file's declarations joined with
// the stored goals. For is one atomic load and a map lookup, for the
// ingest path; edits go through Add and Delete, which write the store and
// reload. Safe for concurrent use.
type Registry struct {
	file  map[string]Config
	store *Store // nil: the file's goals only

	mu   sync.Mutex // one reload at a time
	sets atomic.Pointer[map[string]*Set]
}

// NewRegistry makes a registry of the file's declarations (by site
// domain); store may be nil. Stored goals appear at the first Reload.
func NewRegistry(file map[string]Config, store *Store) *Registry {
	r := &Registry{file: file, store: store}
	r.publish(nil)
	return r
}

// For returns the site's set; nil when the site declares nothing.
func (r *Registry) For(site string) *Set {
	return (*r.sets.Load())[site]
}

// Stored reports whether the registry has a store (goals can be edited).
func (r *Registry) Stored() bool { return r.store != nil }

// Reload reads the stored goals. On an error the sets stay as they were.
func (r *Registry) Reload(ctx context.Context) error {
	if r.store == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	all, err := r.store.All(ctx)
	if err != nil {
		return err
	}
	r.publish(all)
	return nil
}

func (r *Registry) publish(stored []StoredGoal) {
	bySite := map[string][]Goal{}
	for _, g := range stored {
		if _, declared := r.file[g.Site]; declared {
			bySite[g.Site] = append(bySite[g.Site], g.Goal)
		}
	}
	sets := make(map[string]*Set, len(r.file))
	for site, c := range r.file {
		if s := c.set(bySite[site]); !s.Empty() {
			sets[site] = s
		}
	}
	r.sets.Store(&sets)
}

// Run reloads every interval until ctx ends, so that goals edited through
// another collector arrive here. Failures are passed to onError.
func (r *Registry) Run(ctx context.Context, every time.Duration, onError func(error)) {
	if r.store == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := r.Reload(ctx); err != nil && ctx.Err() == nil && onError != nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ErrNoStore is returned by edits on a registry without a store.
var ErrNoStore = errors.New("goals cannot be edited here: no store")

// ErrFileGoal is returned when a goal to delete is declared in the sites
// file: it is edited there.
var ErrFileGoal = errors.New("this goal is declared in the sites file: edit it there")

// Add stores a goal for a declared site and reloads. A name the site
// already uses (in the file or the store) is refused with ErrExists.
func (r *Registry) Add(ctx context.Context, site string, g Goal) error {
	if r.store == nil {
		return ErrNoStore
	}
	if _, ok := r.file[site]; !ok {
		return fmt.Errorf("no site %q", site)
	}
	if err := r.Reload(ctx); err != nil { // the latest names, from every collector
		return err
	}
	if _, dup := r.For(site).Goal(g.Name); dup {
		return ErrExists
	}
	if n := len(r.For(site).goals()); n >= MaxGoals {
		return fmt.Errorf("the site has %d goals, at most %d", n, MaxGoals)
	}
	if err := r.store.put(ctx, site, g, false); err != nil {
		return err
	}
	return r.Reload(ctx)
}

// Delete removes a stored goal and reloads; ok is false when the site has
// no stored goal of that name.
func (r *Registry) Delete(ctx context.Context, site, name string) (ok bool, err error) {
	if r.store == nil {
		return false, ErrNoStore
	}
	c, declared := r.file[site]
	if !declared {
		return false, nil
	}
	if _, inFile := (&Set{Goals: c.Goals}).Goal(name); inFile {
		return false, ErrFileGoal
	}
	if err := r.Reload(ctx); err != nil {
		return false, err
	}
	g, ok := r.For(site).Goal(name)
	if !ok {
		return false, nil
	}
	if err := r.store.put(ctx, site, g, true); err != nil {
		return false, err
	}
	return true, r.Reload(ctx)
}

// FromFile reports whether the site's goal of that name is declared in
// the sites file (and so cannot be deleted from the dashboard).
func (r *Registry) FromFile(site, name string) bool {
	_, ok := (&Set{Goals: r.file[site].Goals}).Goal(name)
	return ok
}

func (s *Set) goals() []Goal {
	if s == nil {
		return nil
	}
	return s.Goals
}
