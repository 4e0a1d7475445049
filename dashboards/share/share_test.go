package share_test

import (
	"context"
	"testing"
	"time"

	"tally/dashboards/share"
	"tally/internal/fixture"
)

func TestCreateResolveRevoke(t *testing.T) {
	ctx := context.Background()
	s := share.New(fixture.Empty(t).Conn(), nil)
	token, l, err := s.Create(ctx, "example.com", "agency", 0)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Resolve(ctx, token)
	if err != nil || !ok || got.ID != l.ID || got.Site != "example.com" || got.Label != "agency" {
		t.Fatalf("resolve: %+v %v %v", got, ok, err)
	}
	if _, ok, _ := s.Resolve(ctx, token[:42]+"x"); ok {
		t.Fatal("resolved a wrong token")
	}
	if ok, err := s.Revoke(ctx, "other.example", l.ID); ok || err != nil {
		t.Fatalf("revoked another site's link: %v %v", ok, err)
	}
	if ok, err := s.Revoke(ctx, "example.com", l.ID); !ok || err != nil {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	if _, ok, err := s.Resolve(ctx, token); ok || err != nil {
		t.Fatalf("revoked link still resolves: %v %v", ok, err)
	}
	links, err := s.List(ctx, "example.com")
	if err != nil || len(links) != 1 || !links[0].Revoked {
		t.Fatalf("list: %+v %v", links, err)
	}
}

// TestExpiry: a link made with a lifetime stops resolving when it ends,
// revoked or not, and a link without one does not expire.
func TestExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s := share.New(fixture.Empty(t).Conn(), func() time.Time { return now })
	short, l, err := s.Create(ctx, "example.com", "a week", 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forever, _, err := s.Create(ctx, "example.com", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.Resolve(ctx, short); err != nil || !ok || !got.Expires.Equal(l.Expires) || !l.Expires.Equal(now.Add(7*24*time.Hour)) {
		t.Fatalf("before expiry: %+v %v %v", got, ok, err)
	}
	now = now.Add(7*24*time.Hour + time.Second)
	if _, ok, err := s.Resolve(ctx, short); ok || err != nil {
		t.Fatalf("an expired link resolves: %v %v", ok, err)
	}
	if _, ok, err := s.Resolve(ctx, forever); !ok || err != nil {
		t.Fatalf("a link without expiry stopped: %v %v", ok, err)
	}
}
