// Package share keeps the read-only share links of site dashboards in
// ClickHouse (table share_links, created by its own migrations, recorded in
// share_migrations). A link is a random secret
// token; only its SHA-256 is stored, so reading the table does not give
// working links. Revoking writes a newer row for the same link.
package share

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"tally/internal/chmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Link is a share link, without its secret token.
type Link struct {
	ID        string
	Site      string
	Label     string
	CreatedAt time.Time
	Revoked   bool
	// Expires ends the link (zero: never). An expired link answers as a
	// revoked one.
	Expires time.Time
}

// Live reports whether the link may be used at now.
func (l Link) Live(now time.Time) bool {
	return !l.Revoked && (l.Expires.IsZero() || now.Before(l.Expires))
}

// Store reads and writes share links.
type Store struct {
	conn   driver.Conn
	schema *chmigrate.Lazy
	now    func() time.Time
}

// New makes a Store on a connection to the collector's database; now may
// be nil (time.Now). The table is created on first use, not here: the
// collector starts while ClickHouse is down.
func New(conn driver.Conn, now func() time.Time) *Store {
	return NewOn(conn, chmigrate.Cluster{}, now)
}

// NewOn is New on a cluster (the zero Cluster: one server), where the
// table is replicated whole to every host.
func NewOn(conn driver.Conn, c chmigrate.Cluster, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{conn: conn, now: now,
		schema: &chmigrate.Lazy{Files: migrationFiles, Dir: "migrations", Table: "share_migrations", Cluster: c}}
}

// migrate creates the table once; safe to call again after a failure.
func (s *Store) migrate(ctx context.Context) error {
	if err := s.schema.Ensure(ctx, s.conn); err != nil {
		return fmt.Errorf("cannot migrate share links: %w", err)
	}
	return nil
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Create makes a link for site and returns its secret token, shown once.
// A link with a non-zero ttl expires that long after it is made.
func (s *Store) Create(ctx context.Context, site, label string, ttl time.Duration) (token string, l Link, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Link{}, fmt.Errorf("cannot make share token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", Link{}, fmt.Errorf("cannot make share link id: %w", err)
	}
	l = Link{ID: hex.EncodeToString(id[:]), Site: site, Label: label, CreatedAt: s.now().UTC().Truncate(time.Second)}
	if ttl > 0 {
		l.Expires = l.CreatedAt.Add(ttl)
	}
	if err := s.write(ctx, l, hashToken(token)); err != nil {
		return "", Link{}, err
	}
	return token, l, nil
}

func (s *Store) write(ctx context.Context, l Link, tokenHash string) error {
	if err := s.migrate(ctx); err != nil {
		return err
	}
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO share_links (id, token_hash, site, label, created_at, revoked, version, expires_at)")
	if err != nil {
		return fmt.Errorf("cannot prepare share link insert: %w", err)
	}
	var revoked uint8
	if l.Revoked {
		revoked = 1
	}
	expires := time.Unix(0, 0).UTC()
	if !l.Expires.IsZero() {
		expires = l.Expires
	}
	if err := batch.Append(l.ID, tokenHash, l.Site, l.Label, l.CreatedAt, revoked, version(), expires); err != nil {
		batch.Abort()
		return fmt.Errorf("cannot append share link: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("cannot store share link: %w", err)
	}
	return nil
}

// version orders a link's rows. It uses the real clock even when tests fix
// s.now, as a revocation must win over the creation.
func version() uint64 { return uint64(time.Now().UnixNano()) }

const latest = `SELECT id, any(site), any(label), min(created_at), argMax(revoked, version), any(token_hash), max(expires_at)
FROM share_links WHERE `

func (s *Store) query(ctx context.Context, where string, args ...any) ([]Link, []string, error) {
	if err := s.migrate(ctx); err != nil {
		return nil, nil, err
	}
	rows, err := s.conn.Query(ctx, latest+where+" GROUP BY id ORDER BY min(created_at) DESC, id", args...)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot query share links: %w", err)
	}
	defer rows.Close()
	var links []Link
	var hashes []string
	for rows.Next() {
		var l Link
		var revoked uint8
		var h string
		var expires time.Time
		if err := rows.Scan(&l.ID, &l.Site, &l.Label, &l.CreatedAt, &revoked, &h, &expires); err != nil {
			return nil, nil, fmt.Errorf("cannot read share links: %w", err)
		}
		l.Revoked = revoked != 0
		if expires.Unix() > 0 {
			l.Expires = expires.UTC()
		}
		links = append(links, l)
		hashes = append(hashes, h)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("cannot read share links: %w", err)
	}
	return links, hashes, nil
}

// List returns a site's links, newest first, revoked ones included.
func (s *Store) List(ctx context.Context, site string) ([]Link, error) {
	links, _, err := s.query(ctx, "site = ?", site)
	return links, err
}

// Resolve finds the live link of a token; ok is false for unknown,
// revoked or expired tokens.
func (s *Store) Resolve(ctx context.Context, token string) (l Link, ok bool, err error) {
	if len(token) != 43 { // base64 of 32 bytes: anything else is not ours
		return Link{}, false, nil
	}
	links, _, err := s.query(ctx, "token_hash = ?", hashToken(token))
	if err != nil || len(links) != 1 || !links[0].Live(s.now()) {
		return Link{}, false, err
	}
	return links[0], true, nil
}

// Revoke disables a site's link; ok is false when the site has no such link.
func (s *Store) Revoke(ctx context.Context, site, id string) (ok bool, err error) {
	links, hashes, err := s.query(ctx, "site = ? AND id = ?", site, id)
	if err != nil || len(links) != 1 {
		return false, err
	}
	l := links[0]
	l.Revoked = true
	if err := s.write(ctx, l, hashes[0]); err != nil {
		return false, fmt.Errorf("cannot revoke share link %s: %w", id, err)
	}
	return true, nil
}
