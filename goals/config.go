package goals

import (
	"errors"
	"fmt"
	"strings"
)

// FileGoal is a goal or funnel step as the sites file writes it:
//
//	{"event": "Signup"}
//	{"name": "Thank you", "path": "/thank-you*"}
//	{"goal": "Thank you"}   (funnel steps only: a goal declared above)
type FileGoal struct {
	Name  string `json:"name"`
	Event string `json:"event"`
	Path  string `json:"path"`
	Goal  string `json:"goal"`
}

// FileFunnel is a funnel as the sites file writes it.
type FileFunnel struct {
	Name  string     `json:"name"`
	Steps []FileGoal `json:"steps"`
}

// Config is a site's declarations from the sites file.
type Config struct {
	Props   []string
	Goals   []Goal
	Funnels []Funnel
}

// Parse validates a site's props, goals and funnels from the sites file.
// The error names the entry and what is wrong with it.
func Parse(props []string, goals []FileGoal, funnels []FileFunnel) (Config, error) {
	var c Config
	if len(props) > MaxProps {
		return Config{}, fmt.Errorf("props: %d names, at most %d", len(props), MaxProps)
	}
	for _, p := range props {
		if !ValidProp(p) {
			return Config{}, fmt.Errorf("props: %q must be 1 to %d letters, digits, '_', '-' or '.'", p, MaxPropLen)
		}
		for _, q := range c.Props {
			if q == p {
				return Config{}, fmt.Errorf("props: %q declared twice", p)
			}
		}
		c.Props = append(c.Props, p)
	}
	if len(goals) > MaxGoals {
		return Config{}, fmt.Errorf("goals: %d, at most %d", len(goals), MaxGoals)
	}
	for i, fg := range goals {
		if fg.Goal != "" {
			return Config{}, fmt.Errorf(`goal %d: "goal" names a goal in a funnel step only`, i+1)
		}
		g, err := NewGoal(fg.Name, fg.Event, fg.Path)
		if err != nil {
			return Config{}, fmt.Errorf("goal %d: %w", i+1, err)
		}
		if _, dup := (&Set{Goals: c.Goals}).Goal(g.Name); dup {
			return Config{}, fmt.Errorf("goal %d: name %q declared twice", i+1, g.Name)
		}
		c.Goals = append(c.Goals, g)
	}
	if len(funnels) > MaxFunnels {
		return Config{}, fmt.Errorf("funnels: %d, at most %d", len(funnels), MaxFunnels)
	}
	for i, ff := range funnels {
		f, err := parseFunnel(ff, c.Goals)
		if err != nil {
			return Config{}, fmt.Errorf("funnel %d (%q): %w", i+1, ff.Name, err)
		}
		for _, o := range c.Funnels {
			if o.Name == f.Name {
				return Config{}, fmt.Errorf("funnel %d: name %q declared twice", i+1, f.Name)
			}
		}
		c.Funnels = append(c.Funnels, f)
	}
	return c, nil
}

func parseFunnel(ff FileFunnel, declared []Goal) (Funnel, error) {
	f := Funnel{Name: strings.TrimSpace(ff.Name)}
	if err := checkName(f.Name); err != nil {
		return Funnel{}, fmt.Errorf("name: %w", err)
	}
	if len(ff.Steps) < MinSteps || len(ff.Steps) > MaxSteps {
		return Funnel{}, fmt.Errorf("%d steps: a funnel has %d to %d", len(ff.Steps), MinSteps, MaxSteps)
	}
	for j, st := range ff.Steps {
		var g Goal
		if st.Goal != "" {
			if st.Event != "" || st.Path != "" {
				return Funnel{}, fmt.Errorf(`step %d: "goal" stands alone`, j+1)
			}
			var ok bool
			if g, ok = (&Set{Goals: declared}).Goal(st.Goal); !ok {
				return Funnel{}, fmt.Errorf("step %d: no goal named %q in this site's goals", j+1, st.Goal)
			}
		} else {
			var err error
			if g, err = NewGoal(st.Name, st.Event, st.Path); err != nil {
				return Funnel{}, fmt.Errorf("step %d: %w", j+1, err)
			}
		}
		f.Steps = append(f.Steps, g)
	}
	return f, nil
}

// ValidProp reports whether a property name may be allow-listed: 1 to
// MaxPropLen ASCII letters, digits, '_', '-' or '.'. Plausible's names are
// free text; a site keeps only names it declares, so the narrow alphabet
// costs nothing and keeps names safe in every output.
func ValidProp(p string) bool {
	if p == "" || len(p) > MaxPropLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// ErrExists is returned when a goal's name is taken.
var ErrExists = errors.New("a goal with this name exists")

// set joins a site's file config and its stored goals (file goals win a
// name both use: the store refuses such names, but the file may gain one
// later).
func (c Config) set(stored []Goal) *Set {
	s := &Set{Goals: append([]Goal(nil), c.Goals...), Funnels: c.Funnels, props: c.Props}
	for _, g := range stored {
		if _, dup := s.Goal(g.Name); !dup && len(s.Goals) < MaxGoals {
			s.Goals = append(s.Goals, g)
		}
	}
	return s
}
