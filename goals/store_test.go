package goals_test

import (
	"context"
	"errors"
	"testing"

	. "tally/goals"
	"tally/internal/fixture"
)

// TestRegistryEdits: goals added through one registry are counted by
// another on the same database after its reload (two collectors), a name
// in use is refused, a file goal cannot be deleted, and a deleted goal is
// gone from both.
func TestRegistryEdits(t *testing.T) {
	sink := fixture.Empty(t) // on the cluster too, with TALLY_FIXTURE_CLUSTER
	ctx := context.Background()
	file := map[string]Config{"example.com": {Goals: []Goal{mustGoal(t, "", "Signup", "")}}, "other.org": {}}
	a := NewRegistry(file, NewStore(sink.Conn(), sink.Cluster(), nil))
	b := NewRegistry(file, NewStore(sink.Conn(), sink.Cluster(), nil))
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if a.For("other.org") != nil {
		t.Fatal("a site that declares nothing has a set")
	}
	thanks := mustGoal(t, "Thank you", "", "/thank-you*")
	if err := a.Add(ctx, "example.com", thanks); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(ctx, "example.com", mustGoal(t, "Signup", "", "/x")); !errors.Is(err, ErrExists) {
		t.Fatalf("a file goal's name: %v", err)
	}
	if err := a.Add(ctx, "example.com", thanks); !errors.Is(err, ErrExists) {
		t.Fatalf("a stored goal's name: %v", err)
	}
	if err := a.Add(ctx, "nowhere.net", thanks); err == nil {
		t.Fatal("a goal for an undeclared site was stored")
	}
	if g, ok := a.For("example.com").Goal("Thank you"); !ok || !g.Matches(Hit{Event: PageviewName, Path: "/thank-you"}) {
		t.Fatal("the added goal is not counted by the registry that added it")
	}
	if _, ok := b.For("example.com").Goal("Thank you"); ok {
		t.Fatal("b saw the goal before reloading")
	}
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.For("example.com").Goal("Thank you"); !ok {
		t.Fatal("another collector does not see the added goal after its reload")
	}
	if _, ok := b.For("other.org").Goal("Thank you"); ok {
		t.Fatal("a goal leaked to another site")
	}
	if _, err := b.Delete(ctx, "example.com", "Signup"); !errors.Is(err, ErrFileGoal) {
		t.Fatalf("deleting a file goal: %v", err)
	}
	if ok, err := b.Delete(ctx, "example.com", "Thank you"); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.For("example.com").Goal("Thank you"); ok {
		t.Fatal("a deleted goal is still counted")
	}
	if _, ok := a.For("example.com").Goal("Signup"); !ok {
		t.Fatal("the file goal went with the deletion")
	}
	// Added again after the deletion: live again.
	if err := a.Add(ctx, "example.com", thanks); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.For("example.com").Goal("Thank you"); !ok {
		t.Fatal("a goal added again after its deletion is not counted")
	}
}

func mustGoal(t *testing.T, name, event, path string) Goal {
	t.Helper()
	g, err := NewGoal(name, event, path)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
