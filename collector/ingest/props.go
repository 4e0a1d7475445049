package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Plausible's limits on an event's custom properties: the collector
// refuses an event beyond them (400) rather than count part of it.
const (
	MaxPropsSent = 30   // keys in one event's props
	MaxPropSent  = 2000 // bytes of a key or value as sent
)

// Props are an event's custom properties as sent: a JSON object of scalar
// values, checked by ParseProps. Only the names a site allow-lists are
// ever read from it (conversions.go); the rest is never copied, stored or
// logged. The zero Props has none.
type Props struct {
	raw []byte // the object's JSON text; aliases the caller's buffer
	n   int
}

// Len is the number of properties.
func (p Props) Len() int { return p.n }

var errPropsObject = errors.New("props must be a JSON object of strings, numbers or booleans")

// ParseProps checks raw, a JSON value that is already known to be valid
// JSON (the body it came from was decoded): an object (or null: none) of
// at most MaxPropsSent members whose values are strings, numbers, booleans
// or null, keys and values at most MaxPropSent bytes. The result aliases
// raw: it is read during the pipeline call only. It does not allocate.
func ParseProps(raw []byte) (Props, error) {
	s := scanner{b: raw}
	s.space()
	if s.literal("null") {
		return Props{}, nil
	}
	if !s.byte('{') {
		return Props{}, errPropsObject
	}
	n := 0
	for {
		s.space()
		if s.byte('}') {
			return Props{raw: raw, n: n}, nil
		}
		if n > 0 && !s.byte(',') {
			return Props{}, errPropsObject
		}
		s.space()
		key, ok := s.str()
		if !ok {
			return Props{}, errPropsObject
		}
		if n++; n > MaxPropsSent {
			return Props{}, fmt.Errorf("props: more than %d properties", MaxPropsSent)
		}
		if len(key) > MaxPropSent+2 {
			return Props{}, fmt.Errorf("props: a property name is over %d bytes", MaxPropSent)
		}
		s.space()
		if !s.byte(':') {
			return Props{}, errPropsObject
		}
		s.space()
		v, kind := s.value()
		switch {
		case kind == valueNested:
			return Props{}, errors.New("props: a value is an array or object: send strings, numbers or booleans")
		case kind == valueBad:
			return Props{}, errPropsObject
		case len(v) > MaxPropSent+2:
			return Props{}, fmt.Errorf("props: a value is over %d bytes", MaxPropSent)
		}
	}
}

// propIter reads a Props' members in order.
type propIter struct{ s scanner }

func (p Props) iter() propIter {
	it := propIter{s: scanner{b: p.raw}}
	if p.n > 0 {
		it.s.space()
		it.s.byte('{')
	}
	return it
}

// next returns the next member: its key and value as JSON text (a quoted
// string, or a number, true, false or null). ok is false at the end.
func (it *propIter) next() (key, value []byte, ok bool) {
	s := &it.s
	s.space()
	if s.i >= len(s.b) || s.byte('}') {
		return nil, nil, false
	}
	s.byte(',')
	s.space()
	key, _ = s.str()
	s.space()
	s.byte(':')
	s.space()
	value, _ = s.value()
	return key, value, true
}

// text is a member's key or value as a string: a JSON string's content
// (unescaped; only an escape allocates), a number or boolean as its JSON
// text, "" for null.
func text(j []byte) string {
	if len(j) == 0 || j[0] != '"' {
		if string(j) == "null" {
			return ""
		}
		return string(j)
	}
	inner := j[1 : len(j)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if err := json.Unmarshal(j, &s); err != nil {
				return ""
			}
			return s
		}
	}
	return string(inner)
}

// scanner walks JSON text that is known to be valid.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) byte(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) literal(l string) bool {
	if len(s.b)-s.i >= len(l) && string(s.b[s.i:s.i+len(l)]) == l {
		s.i += len(l)
		return true
	}
	return false
}

// str reads a string, quotes included.
func (s *scanner) str() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i - 1
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			s.i += 2
		case '"':
			s.i++
			return s.b[start:s.i], true
		default:
			s.i++
		}
	}
	return nil, false
}

const (
	valueScalar = iota
	valueNested
	valueBad
)

// value reads a scalar value; an array or object is reported, not read.
func (s *scanner) value() ([]byte, int) {
	if s.i >= len(s.b) {
		return nil, valueBad
	}
	switch s.b[s.i] {
	case '"':
		v, ok := s.str()
		if !ok {
			return nil, valueBad
		}
		return v, valueScalar
	case '{', '[':
		return nil, valueNested
	}
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ' ', '\t', '\n', '\r':
			return s.b[start:s.i], scalarKind(s.b[start:s.i])
		}
		s.i++
	}
	return nil, valueBad
}

// scalarKind checks a literal of valid JSON: a number, true, false or
// null.
func scalarKind(v []byte) int {
	switch {
	case string(v) == "true", string(v) == "false", string(v) == "null":
		return valueScalar
	case len(v) > 0 && (v[0] == '-' || '0' <= v[0] && v[0] <= '9'):
		return valueScalar
	}
	return valueBad
}
