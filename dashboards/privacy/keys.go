package privacy

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"tally/internal/chmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Keys keeps the noise key in ClickHouse (table noise_key, migrations
// recorded in privacy_migrations): one random key per installation, made by
// whichever process needs it first, so every replica and every restart adds
// the same noise to the same question. A key that changed would let a
// patient viewer average two noises of one answer.
type Keys struct {
	conn    driver.Conn
	cluster chmigrate.Cluster

	mu    sync.Mutex
	noise *Noise
}

// NewKeys makes a Keys on the collector's database connection. Nothing is
// read until Noise is first called: the collector starts while ClickHouse
// is down.
func NewKeys(conn driver.Conn) *Keys { return NewKeysOn(conn, chmigrate.Cluster{}) }

// NewKeysOn is NewKeys on a cluster (the zero Cluster: one server), where
// the key's table is replicated whole to every host.
func NewKeysOn(conn driver.Conn, c chmigrate.Cluster) *Keys { return &Keys{conn: conn, cluster: c} }

// Noise returns the installation's Noise, creating the key on first use.
func (k *Keys) Noise(ctx context.Context) (*Noise, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.noise != nil {
		return k.noise, nil
	}
	all, err := chmigrate.Load(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	if err := k.cluster.Apply(ctx, k.conn, "privacy_migrations", all); err != nil {
		return nil, fmt.Errorf("cannot migrate the noise key table: %w", err)
	}
	key, err := k.read(ctx)
	if err != nil {
		return nil, err
	}
	if key == "" {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("cannot make a noise key: %w", err)
		}
		batch, err := k.conn.PrepareBatch(ctx, "INSERT INTO noise_key (key, created)")
		if err != nil {
			return nil, fmt.Errorf("cannot prepare the noise key insert: %w", err)
		}
		if err := batch.Append(hex.EncodeToString(b[:]), time.Now().UTC()); err != nil {
			batch.Abort()
			return nil, fmt.Errorf("cannot append the noise key: %w", err)
		}
		if err := batch.Send(); err != nil {
			return nil, fmt.Errorf("cannot store the noise key: %w", err)
		}
		// Read back rather than use ours: when two processes start at
		// once, both settle on the oldest key.
		if key, err = k.read(ctx); err != nil {
			return nil, err
		}
	}
	raw, err := hex.DecodeString(key)
	if err != nil {
		return nil, fmt.Errorf("the stored noise key is not hex: %w", err)
	}
	if k.noise, err = NewNoise(raw); err != nil {
		return nil, err
	}
	return k.noise, nil
}

func (k *Keys) read(ctx context.Context) (string, error) {
	if k.cluster.On() {
		// A key another host stored must be here before "none" is
		// believed, or two hosts' first starts would make two keys.
		if err := k.conn.Exec(ctx, "SYSTEM SYNC REPLICA "+k.cluster.Database+".noise_key"); err != nil {
			return "", fmt.Errorf("cannot sync the noise key: %w", err)
		}
	}
	rows, err := k.conn.Query(ctx, "SELECT key FROM noise_key ORDER BY created, key LIMIT 1")
	if err != nil {
		return "", fmt.Errorf("cannot read the noise key: %w", err)
	}
	defer rows.Close()
	var key string
	for rows.Next() {
		if err := rows.Scan(&key); err != nil {
			return "", fmt.Errorf("cannot read the noise key: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("cannot read the noise key: %w", err)
	}
	return key, nil
}
