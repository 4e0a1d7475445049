package goals

import (
	"strings"
	"testing"
)

func TestPattern(t *testing.T) {
	for _, c := range []struct {
		pattern string
		yes     []string
		no      []string
	}{
		{"/thank-you", []string{"/thank-you"}, []string{"/thank-you/", "/thank-yous", "/"}},
		{"/thank-you*", []string{"/thank-you", "/thank-you-2"}, []string{"/thank-you/again", "/thanks"}},
		{"/blog/*", []string{"/blog/a", "/blog/"}, []string{"/blog/a/b", "/blog"}},
		{"/blog/**", []string{"/blog/a", "/blog/a/b/c", "/blog/"}, []string{"/blog", "/blogs/a"}},
		{"/shop/*/done", []string{"/shop/x/done"}, []string{"/shop/x/y/done", "/shop/x/done/2"}},
		{"/**/done", []string{"/a/done", "/a/b/done", "//done"}, []string{"/done", "/a/donex"}},
		{"/a*b*c", []string{"/abc", "/aXbYc", "/abbc"}, []string{"/ab", "/aXc", "/a/bc"}},
	} {
		p, err := ParsePattern(c.pattern)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		for _, y := range c.yes {
			if !p.Match(y) {
				t.Errorf("%s does not match %s", c.pattern, y)
			}
		}
		for _, n := range c.no {
			if p.Match(n) {
				t.Errorf("%s matches %s", c.pattern, n)
			}
		}
	}
	for _, bad := range []string{"", "thank-you", "/a\tb", "/" + strings.Repeat("a", MaxPatternLen)} {
		if _, err := ParsePattern(bad); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

// TestPatternBacktracking: a pattern of many wildcards against a long
// path that almost matches ends (bounded work, no blow-up).
func TestPatternBacktracking(t *testing.T) {
	p, err := ParsePattern("/" + strings.Repeat("**a", 30) + "b")
	if err != nil {
		t.Fatal(err)
	}
	if p.Match("/" + strings.Repeat("a", 200)) {
		t.Fatal("matched a path without b")
	}
}

func TestParse(t *testing.T) {
	c, err := Parse([]string{"plan", "author"},
		[]FileGoal{{Event: "Signup"}, {Name: "Thank you", Path: "/thank-you*"}},
		[]FileFunnel{{Name: "Checkout", Steps: []FileGoal{{Path: "/pricing"}, {Event: "Begin"}, {Goal: "Thank you"}}}})
	if err != nil {
		t.Fatal(err)
	}
	s := c.set(nil)
	if !s.Keeps("plan") || s.Keeps("email") || s.Keeps("Plan") {
		t.Error("allow-list")
	}
	if g, ok := s.Goal("Signup"); !ok || !g.Matches(Hit{Event: "Signup", Path: "/x"}) || g.Matches(Hit{Event: "signup"}) {
		t.Errorf("event goal: %+v", g)
	}
	g, _ := s.Goal("Thank you")
	if !g.Matches(Hit{Event: PageviewName, Path: "/thank-you-2"}) || g.Matches(Hit{Event: "Signup", Path: "/thank-you"}) {
		t.Error("a page goal matches page views of its pattern only")
	}
	if f := s.Funnels[0]; len(f.Steps) != 3 || !f.Steps[2].Matches(Hit{Event: PageviewName, Path: "/thank-you"}) {
		t.Errorf("funnel: %+v", f)
	}
	if g, _ := NewGoal("", "", "/done"); g.Name != "Visit /done" {
		t.Errorf("default page goal name %q", g.Name)
	}

	for name, bad := range map[string]func() error{
		"prop with a space": func() error { _, err := Parse([]string{"a b"}, nil, nil); return err },
		"prop twice":        func() error { _, err := Parse([]string{"a", "a"}, nil, nil); return err },
		"event and path":    func() error { _, err := Parse(nil, []FileGoal{{Event: "a", Path: "/a"}}, nil); return err },
		"neither":           func() error { _, err := Parse(nil, []FileGoal{{Name: "x"}}, nil); return err },
		"pageview goal":     func() error { _, err := Parse(nil, []FileGoal{{Event: "pageview"}}, nil); return err },
		"name twice":        func() error { _, err := Parse(nil, []FileGoal{{Event: "a"}, {Name: "a", Path: "/a"}}, nil); return err },
		"one step": func() error {
			_, err := Parse(nil, nil, []FileFunnel{{Name: "f", Steps: []FileGoal{{Path: "/"}}}})
			return err
		},
		"nine steps": func() error {
			_, err := Parse(nil, nil, []FileFunnel{{Name: "f", Steps: make([]FileGoal, 9)}})
			return err
		},
		"unknown goal step": func() error {
			_, err := Parse(nil, nil, []FileFunnel{{Name: "f", Steps: []FileGoal{{Goal: "x"}, {Path: "/"}}}})
			return err
		},
		"funnel without name": func() error {
			_, err := Parse(nil, nil, []FileFunnel{{Steps: []FileGoal{{Path: "/a"}, {Path: "/b"}}}})
			return err
		},
		"goal field in a goal": func() error { _, err := Parse(nil, []FileGoal{{Goal: "x"}}, nil); return err },
	} {
		if bad() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSetMatch(t *testing.T) {
	c, err := Parse(nil, []FileGoal{{Event: "Signup"}, {Path: "/done*"}, {Name: "All done", Path: "/done/**"}, {Path: "/done"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := c.set(nil)
	var buf [MaxGoals]int
	if got := s.Match(Hit{Event: PageviewName, Path: "/done"}, buf[:0]); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Errorf("page view /done matched %v, want [1 3]", got)
	}
	if got := s.Match(Hit{Event: "Signup", Path: "/done"}, buf[:0]); len(got) != 1 || got[0] != 0 {
		t.Errorf("event Signup matched %v, want [0]", got)
	}
	if n := testing.AllocsPerRun(100, func() { s.Match(Hit{Event: PageviewName, Path: "/done/x"}, buf[:0]) }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
	if got := (*Set)(nil).Match(Hit{Event: "Signup"}, buf[:0]); len(got) != 0 {
		t.Error("a nil set matched")
	}
}

// FuzzPattern: any pattern either is refused or compiles to one that
// matches itself with its wildcards read as literal text where they stand
// for nothing, and a literal pattern matches exactly itself.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{"/thank-you*", "/blog/**", "/a*b*c", "/**/x", "/", "/a.b+c?(d)[e]"} {
		f.Add(s, "/thank-you")
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		p, err := ParsePattern(pattern)
		if err != nil {
			return
		}
		if !p.Match(strings.ReplaceAll(pattern, "*", "")) {
			t.Fatalf("%q does not match itself without its wildcards", pattern)
		}
		if !strings.Contains(pattern, "*") && p.Match(path) != (path == pattern) {
			t.Fatalf("literal %q against %q", pattern, path)
		}
		p.Match(path) // never panics
	})
}
