package share_test

import (
	"context"
	"testing"

	"tally/dashboards/share"
	"tally/internal/fixture"
)

func TestCreateResolveRevoke(t *testing.T) {
	ctx := context.Background()
	s := share.New(fixture.Empty(t).Conn(), nil)
	token, l, err := s.Create(ctx, "example.com", "agency")
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
