package ingest

import (
	"net/url"
	"path"
	"strings"
	"unsafe"

	"tally/aggregator"
	"tally/collector/referrer"
	"tally/collector/uniques"
	"tally/counter"
	"tally/goals"
	"tally/scrub"
	"tally/sites"
)

// The automatic events of Plausible's tracker (and ours), whose built-in
// properties are kept without the allow-list, reduced to what the
// dashboards show: a link's destination host, a download's path and
// extension, a page's path. Never the URL as sent: it can carry a query,
// a token or an address.
const (
	OutboundLinkName   = "Outbound Link: Click"
	FileDownloadName   = "File Download"
	NotFoundName       = "404"
	FormSubmissionName = "Form: Submission"
)

// conversionHit is what the conversion rows of a counted hit are made of.
type conversionHit struct {
	site     *sites.Site
	name     string // the counted event name (PageviewName for a page view)
	path     string // the counted page path
	props    Props
	revenue  Revenue
	uniques  bool // the consent decision allowed the daily visitor hash
	vis      uniques.Visitor
	pageview bool
}

// goalSet is the site's conversion set, or nil when there is none: a site
// without goals, funnels or props costs one atomic load per hit.
func (p *Pipeline) goalSet(site string) *goals.Set {
	if p.opts.Goals == nil {
		return nil
	}
	if s := p.opts.Goals.For(site); !s.Empty() {
		return s
	}
	return nil
}

// keptProp is a property that is counted: its name (the site's or a
// built-in's, never the sender's bytes) and scrubbed value.
type keptProp struct{ name, value string }

// conversionRows is how many rows fit on the stack; a hit with more (many
// goals and props) grows them on the heap.
const conversionRows = 48

// addConversions adds the hit's rows, main (made by Event), together with
// its conversion rows, under one aggregator call, so that a hit is never
// half counted:
//   - uniques: on or off, for the coverage of per-visitor figures;
//   - prop: <event>\t<prop>\t<value> for each kept property;
//   - goal: each goal the hit converts;
//   - goal_prop: <goal>\t<prop>\t<value>, kept properties under each goal;
//   - revenue: <goal>\t<currency>, a custom event's revenue under each goal.
//
// Visitors are counted on prop, goal and goal_prop rows as on every other
// row: by the day's (visitor, row) pairs, where the hash was computed.
// matched are the goals the hit converts, indexes in set.Goals.
func (p *Pipeline) addConversions(set *goals.Set, matched []int, h *conversionHit, hour int64, main []aggregator.WebUpdate) {
	var kept [MaxPropsSent]keptProp
	nk := keepProps(set, h, &kept)
	hasRevenue := h.revenue.Micros > 0 && !h.pageview

	// Every new value in one string: one allocation for the hit's rows.
	size := 0
	for _, k := range kept[:nk] {
		size += len(h.name) + len(k.name) + len(k.value) + 2
	}
	for _, gi := range matched {
		g := &set.Goals[gi]
		for _, k := range kept[:nk] {
			size += len(g.Name) + len(k.name) + len(k.value) + 2
		}
		if hasRevenue {
			size += len(g.Name) + 1 + len(h.revenue.Currency)
		}
	}
	var b strings.Builder
	b.Grow(size)
	var ends [conversionRows]int // where each value ends in b
	cut := ends[:0]
	join3 := func(a, c, d string) {
		b.WriteString(a)
		b.WriteString(counter.ValueSep)
		b.WriteString(c)
		b.WriteString(counter.ValueSep)
		b.WriteString(d)
		cut = append(cut, b.Len())
	}
	for _, k := range kept[:nk] {
		join3(h.name, k.name, k.value)
	}
	for _, gi := range matched {
		g := &set.Goals[gi]
		for _, k := range kept[:nk] {
			join3(g.Name, k.name, k.value)
		}
		if hasRevenue {
			b.WriteString(g.Name)
			b.WriteString(counter.ValueSep)
			b.WriteString(h.revenue.Currency)
			cut = append(cut, b.Len())
		}
	}
	all := b.String()

	hit := counter.WebCounts{Hits: 1}
	if h.pageview {
		hit.Pageviews = 1
	}
	var rowBuf [conversionRows]aggregator.WebUpdate
	rows := append(rowBuf[:0], main...)
	uv := counter.UniquesOff
	if h.uniques {
		uv = counter.UniquesOn
	}
	rows = append(rows, aggregator.WebUpdate{Dimension: counter.DimUniques, Value: uv, Counts: hit})
	counted := len(rows) // rows from here on get Visitors from their pairs

	start, vi := 0, 0
	value := func() string {
		v := all[start:cut[vi]]
		start, vi = cut[vi], vi+1
		return v
	}
	for range kept[:nk] {
		rows = append(rows, aggregator.WebUpdate{Dimension: counter.DimProp, Value: value(), Counts: hit})
	}
	for _, gi := range matched {
		rows = append(rows, aggregator.WebUpdate{Dimension: counter.DimGoal, Value: set.Goals[gi].Name, Counts: counter.WebCounts{Hits: 1}})
		for range kept[:nk] {
			rows = append(rows, aggregator.WebUpdate{Dimension: counter.DimGoalProp, Value: value(), Counts: hit})
		}
		if hasRevenue {
			rows = append(rows, aggregator.WebUpdate{Dimension: counter.DimRevenue, Value: value(),
				Counts: counter.WebCounts{Hits: 1, Revenue: h.revenue.Micros}})
		}
	}
	if h.uniques {
		p.conversionVisitors(h.vis, rows[counted:])
	}
	p.opts.Aggregator.AddWeb(h.site.Domain, hour, rows)
}

// conversionVisitors sets Visitors on the prop, goal, goal_prop and
// revenue rows that are the visitor's first of the day. Revenue rows count
// visitors too, so that k counts buyers, not purchases: one buyer's k
// purchases in a rare currency stay withheld (dashboards/privacy).
func (p *Pipeline) conversionVisitors(vis uniques.Visitor, rows []aggregator.WebUpdate) {
	var pairBuf [conversionRows]uniques.Pair
	pairs := pairBuf[:0]
	for i := range rows {
		pairs = append(pairs, uniques.Pair{Dimension: rows[i].Dimension, Value: rows[i].Value})
	}
	p.opts.Visitors.FirstTodayAll(vis, pairs)
	for i := range rows {
		if pairs[i].First {
			rows[i].Counts.Visitors = 1
		}
	}
}

// keepProps fills kept with the properties of the hit that are counted:
// the reduced built-ins of the automatic events, and the allow-listed
// names, each once (the first), values scrubbed and non-empty. Nothing
// else of the props is read.
func keepProps(set *goals.Set, h *conversionHit, kept *[MaxPropsSent]keptProp) int {
	if h.props.n == 0 {
		return 0
	}
	builtin := h.name == OutboundLinkName || h.name == FileDownloadName || h.name == NotFoundName || h.name == FormSubmissionName
	allowed := set.Props()
	n := 0
	add := func(name, value string) {
		if value == "" || n == len(kept) {
			return
		}
		for _, k := range kept[:n] {
			if k.name == name {
				return
			}
		}
		kept[n] = keptProp{name: name, value: value}
		n++
	}
	it := h.props.iter()
	for {
		key, val, ok := it.next()
		if !ok {
			break
		}
		k := unquoted(key)
		if builtin {
			if name, v, ext := reduceBuiltin(h, k, val); name != "" {
				add(name, v)
				if ext != "" {
					add("ext", ext)
				}
				continue
			}
		}
		for _, a := range allowed {
			if a == k {
				add(a, scrub.Value(propValue(val)))
				break
			}
		}
	}
	return n
}

// reduceBuiltin reduces a built-in property of an automatic event: the
// name it is counted under ("" when key is not a built-in of the event),
// its value, and for a download the file's extension.
func reduceBuiltin(h *conversionHit, key string, val []byte) (name, value, ext string) {
	switch {
	case key == "url" && h.name == OutboundLinkName:
		u, err := url.Parse(strings.TrimSpace(propValue(val)))
		if err != nil {
			return "url", "", ""
		}
		return "url", scrub.Value(strings.ToLower(u.Hostname())), ""
	case key == "url" && h.name == FileDownloadName:
		raw := strings.TrimSpace(propValue(val))
		if strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") {
			raw = "http://local" + raw // a relative link: its path as the site's
		}
		pg, err := referrer.ParsePage(raw)
		if err != nil {
			return "url", "", ""
		}
		p := h.site.PathRules.Apply(pg.Path)
		e := strings.ToLower(strings.TrimPrefix(path.Ext(pg.Path), "."))
		if len(e) > 10 || strings.ContainsFunc(e, func(r rune) bool { return !('a' <= r && r <= 'z' || '0' <= r && r <= '9') }) {
			e = ""
		}
		return "url", p, e
	case key == "path" && (h.name == NotFoundName || h.name == FormSubmissionName):
		p := strings.TrimSpace(propValue(val))
		p, _, _ = strings.Cut(p, "?")
		p, _, _ = strings.Cut(p, "#")
		if p == "" {
			return "path", "", ""
		}
		if p[0] != '/' {
			p = "/" + p
		}
		return "path", h.site.PathRules.Apply(scrub.Path(p, nil)), ""
	}
	return "", "", ""
}

// unquoted is a JSON key's name. Without an escape it aliases the props'
// bytes (no allocation): it is only compared, never kept.
func unquoted(key []byte) string {
	if len(key) < 2 {
		return ""
	}
	inner := key[1 : len(key)-1]
	for _, c := range inner {
		if c == '\\' {
			return text(key)
		}
	}
	return bytesString(inner)
}

// propValue is a value's text (see text), aliasing the props' bytes when
// it holds no escape. The caller scrubs it and copies what it keeps into
// the hit's row values: nothing retains the alias past the pipeline call,
// during which the caller keeps the bytes unchanged (Event.Props).
func propValue(v []byte) string {
	if len(v) >= 2 && v[0] == '"' {
		for _, c := range v[1 : len(v)-1] {
			if c == '\\' {
				return text(v)
			}
		}
		return bytesString(v[1 : len(v)-1])
	}
	if string(v) == "null" {
		return ""
	}
	return bytesString(v)
}

// bytesString views b as a string without copying; see propValue for why
// that is safe here.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
