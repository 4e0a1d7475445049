package dashboards

import (
	"context"
	"embed"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/gofiber/fiber/v2"

	"tally/internal/chmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// revocations are the ids of signed-out sessions. They live in ClickHouse
// (table revoked_sessions) so that every replica and every restart refuses
// them, and are cached here: a revocation made by this process counts at
// once, one made by another replica within refreshEvery.
type revocations struct {
	conn   driver.Conn
	schema *chmigrate.Lazy
	now    func() time.Time

	mu       sync.Mutex
	ids      map[string]int64 // id -> expiry, unix seconds
	loadedAt time.Time
}

// refreshEvery bounds how long another replica's sign-out takes to count
// here.
const refreshEvery = 5 * time.Second

func newRevocations(conn driver.Conn, c chmigrate.Cluster, now func() time.Time) *revocations {
	return &revocations{conn: conn, now: now, ids: map[string]int64{},
		schema: &chmigrate.Lazy{Files: migrationFiles, Dir: "migrations", Table: "dashboards_migrations", Cluster: c}}
}

// migrate creates the table once; safe to call again after a failure.
func (r *revocations) migrate(ctx context.Context) error {
	if err := r.schema.Ensure(ctx, r.conn); err != nil {
		return fmt.Errorf("cannot migrate the dashboards' tables: %w", err)
	}
	return nil
}

// add revokes id until exp; it fails when the revocation cannot be stored,
// so that the user is not told they signed out when another replica would
// still accept the cookie.
func (r *revocations) add(ctx context.Context, id string, exp int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids[id] = exp // refused here at once, whatever ClickHouse says
	if err := r.migrate(ctx); err != nil {
		return err
	}
	b, err := r.conn.PrepareBatch(ctx, "INSERT INTO revoked_sessions (id, expires)")
	if err != nil {
		return fmt.Errorf("cannot prepare the revocation: %w", err)
	}
	if err := b.Append(id, time.Unix(exp, 0).UTC()); err != nil {
		b.Abort()
		return fmt.Errorf("cannot append the revocation: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot store the revocation: %w", err)
	}
	return nil
}

// has reports whether id was revoked. When ClickHouse cannot be read, the
// ids known so far still count: a revocation is never forgotten here.
func (r *revocations) has(ctx context.Context, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.loadedAt) >= refreshEvery {
		if err := r.load(ctx, now); err == nil {
			r.loadedAt = now
		}
	}
	exp, ok := r.ids[id]
	return ok && now.Unix() < exp
}

// load reads the unexpired revocations; called with mu held.
func (r *revocations) load(ctx context.Context, now time.Time) error {
	if err := r.migrate(ctx); err != nil {
		return err
	}
	rows, err := r.conn.Query(ctx, "SELECT id, max(expires) FROM revoked_sessions WHERE expires > toDateTime("+
		strconv.FormatInt(now.Unix(), 10)+") GROUP BY id")
	if err != nil {
		return fmt.Errorf("cannot read revoked sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var exp time.Time
		if err := rows.Scan(&id, &exp); err != nil {
			return fmt.Errorf("cannot read revoked sessions: %w", err)
		}
		r.ids[id] = exp.Unix()
	}
	for id, exp := range r.ids {
		if now.Unix() >= exp {
			delete(r.ids, id)
		}
	}
	return rows.Err()
}

// throttle slows sign-in failures per client. A client is a keyed hash
// (ClientKey), never an address. Each client has a few free failures; past
// them it waits 2^(n-free) seconds, up to maxBackoff, before its next try.
// Clients that have not failed are never refused, so a storm from others
// cannot lock the owner out.
type throttle struct {
	now func() time.Time

	mu      sync.Mutex
	clients map[string]*failures
}

type failures struct {
	n     int
	until time.Time // no attempt before this
	last  time.Time
}

const (
	freeFailures  = 5
	maxBackoff    = 15 * time.Minute
	forgetFailure = time.Hour
	// maxThrottled bounds the memory of a distributed storm (~100 B each).
	maxThrottled = 100_000
)

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, clients: map[string]*failures{}}
}

// wait is how long client must still wait; 0 means it may try now.
func (t *throttle) wait(client string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.clients[client]
	if f == nil {
		return 0
	}
	return max(f.until.Sub(t.now()), 0)
}

func (t *throttle) fail(client string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	f := t.clients[client]
	if f == nil || now.Sub(f.last) > forgetFailure {
		if len(t.clients) >= maxThrottled {
			t.prune(now)
		}
		f = &failures{}
		t.clients[client] = f
	}
	f.n++
	f.last = now
	if f.n > freeFailures {
		f.until = now.Add(min(time.Second<<min(f.n-freeFailures-1, 20), maxBackoff))
	}
}

func (t *throttle) forget(client string) {
	t.mu.Lock()
	delete(t.clients, client)
	t.mu.Unlock()
}

// prune drops stale clients, and any one client if none is stale, so that
// the map stays bounded; called with mu held.
func (t *throttle) prune(now time.Time) {
	for k, f := range t.clients {
		if now.Sub(f.last) > forgetFailure {
			delete(t.clients, k)
		}
	}
	for k := range t.clients {
		if len(t.clients) < maxThrottled {
			break
		}
		delete(t.clients, k)
	}
}

// peerKey is the default ClientKey: a keyed hash of the connection's peer
// address, with a key made at start and held only in memory. Behind a
// proxy, the collector passes its own, which resolves the forwarded
// address first.
func peerKey() func(*fiber.Ctx) string {
	seed := maphash.MakeSeed()
	return func(c *fiber.Ctx) string {
		return strconv.FormatUint(maphash.Bytes(seed, c.Context().RemoteIP()), 36)
	}
}
