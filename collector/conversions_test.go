package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"tally/collector/clientip"
	"tally/collector/ingest"
	"tally/collector/metrics"
	"tally/counter"
	"tally/goals"
	"tally/internal/testpipe"
	"tally/sites"
)

// newGoalsApp is the real app for a site that keeps the prop plan and
// has the event goal Purchase, with a body limit of bodyLimit (0: the
// default).
func newGoalsApp(t *testing.T, bodyLimit int) (*fiber.App, *testpipe.Pipe) {
	t.Helper()
	reg, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"example.com","props":["plan"],"goals":[{"event":"Purchase"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := reg.Lookup("example.com")
	gr := goals.NewRegistry(map[string]goals.Config{"example.com": s.Conversions}, nil)
	p := testpipe.New(t, testpipe.Options{Pipeline: func(o *ingest.Options) { o.Goals = gr }})
	app, err := New(Options{Sites: reg, Pipeline: p.Pipeline, Metrics: metrics.New(metrics.Gauges{}), BodyLimit: bodyLimit,
		Proxies: clientip.NewResolver(nil)})
	if err != nil {
		t.Fatal(err)
	}
	return app, p
}

// TestConversionBadInput: every bad props, meta or revenue member is
// answered with a 4xx whose text names the field (or 413 past the body
// limit), and nothing of the event is counted.
func TestConversionBadInput(t *testing.T) {
	event := func(extra string) string {
		return `{"name":"Purchase","url":"https://example.com/","domain":"example.com",` + extra + `}`
	}
	manyKeys := func(n int) string {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf(`"k%d":1`, i)
		}
		return `{` + strings.Join(keys, ",") + `}`
	}
	megabyte := strings.Repeat("v", 1<<20)
	cases := []struct {
		name, body string
		status     int // with the default body limit
		word       string
	}{
		{"props array", `"props":["plan"]`, 400, "props"},
		{"p array", `"p":[1,2]`, 400, "props"},
		{"props string not holding JSON", `"props":"plan"`, 400, "props"},
		{"props string holding an array", `"p":"[1,2]"`, 400, "props"},
		{"props number", `"props":1`, 400, "props"},
		{"prop value array", `"props":{"plan":["pro"]}`, 400, "props"},
		{"prop value object", `"props":{"plan":{"a":1}}`, 400, "props"},
		{"31 props", `"props":` + manyKeys(31), 400, "props"},
		{"10,000 props", `"props":` + manyKeys(10000), 413, ""},
		{"2,001-byte value", `"props":{"plan":"` + strings.Repeat("v", 2001) + `"}`, 400, "props"},
		{"1 MB value", `"props":{"plan":"` + megabyte + `"}`, 413, ""},
		{"meta object", `"meta":{"plan":"pro"}`, 400, "meta"},
		{"m number", `"m":12`, 400, "meta"},
		{"meta not JSON", `"meta":"{plan"`, 400, "meta"},
		{"meta holding an array", `"meta":"[1]"`, 400, "props"},
		{"currency unknown", `"revenue":{"amount":1,"currency":"ABC"}`, 400, "revenue.currency"},
		{"currency lower word", `"revenue":{"amount":1,"currency":"euro"}`, 400, "revenue.currency"},
		{"currency missing", `"$":{"amount":1}`, 400, "revenue.currency"},
		{"amount negative", `"revenue":{"amount":-5,"currency":"EUR"}`, 400, "revenue.amount"},
		{"amount zero", `"revenue":{"amount":0,"currency":"EUR"}`, 400, "revenue.amount"},
		{"amount absurd", `"revenue":{"amount":1e300,"currency":"EUR"}`, 400, "revenue.amount"},
		{"amount over the bound", `"revenue":{"amount":1000000000.01,"currency":"EUR"}`, 400, "revenue.amount"},
		{"amount NaN", `"revenue":{"amount":"NaN","currency":"EUR"}`, 400, "revenue.amount"},
		{"amount too precise", `"revenue":{"amount":"1.0000001","currency":"EUR"}`, 400, "revenue.amount"},
		{"revenue array", `"revenue":[1,"EUR"]`, 400, "revenue"},
	}
	for _, limit := range []int{0, 4 << 20} {
		app, pipe := newGoalsApp(t, limit)
		agg := pipe.Aggregator
		url := "http://" + serve(t, app) + "/api/event"
		for _, c := range cases {
			want := c.status
			if limit > 0 && want == 413 {
				want = 400 // the body passes: the props checks refuse it
			}
			resp, body := post(t, url, event(c.body))
			if resp.StatusCode != want {
				t.Errorf("limit %d, %s: status %d (%.200s), want %d", limit, c.name, resp.StatusCode, body, want)
				continue
			}
			var e errorBody
			if want == 400 {
				if err := json.Unmarshal(body, &e); err != nil || !strings.Contains(e.Error, c.word) && c.word != "" {
					t.Errorf("%s: answer %.200s does not name %q", c.name, body, c.word)
				}
				if strings.Contains(e.Error, "vvvv") || strings.Contains(e.Error, "k9") {
					t.Errorf("%s: the answer quotes the request: %.200s", c.name, body)
				}
			}
		}
		if n := agg.Pending(); n != 0 {
			t.Fatalf("limit %d: refused events left %d counter rows", limit, n)
		}
		// The same event done right is counted.
		resp, _ := post(t, url, event(`"props":{"plan":"pro"},"revenue":{"amount":"9.99","currency":"EUR"}`))
		if resp.StatusCode != http.StatusAccepted || agg.Pending() == 0 {
			t.Fatalf("a valid event: status %d, pending %d", resp.StatusCode, agg.Pending())
		}
	}
}

// TestConversionForms: props as p, the legacy meta string, p as a string
// holding the object (plausible-tracker's JSON.stringify), revenue as $
// and hash routing as h reach the pipeline.
func TestConversionForms(t *testing.T) {
	app, pipe := newGoalsApp(t, 0)
	for _, body := range []string{
		`{"n":"Purchase","u":"https://example.com/","d":"example.com","p":{"plan":"pro"},"$":{"amount":12.5,"currency":"EUR"}}`,
		`{"name":"Purchase","url":"https://example.com/","domain":"example.com","meta":"{\"plan\":\"pro\"}","revenue":{"amount":"2.5","currency":"EUR"}}`,
		`{"n":"pageview","u":"https://example.com/#/about","d":"example.com","h":1}`,
		`{"n":"Purchase","u":"https://example.com/","d":"example.com","p":"{\"plan\":\"pro\",\"card\":\"4111\"}"}`,
	} {
		if resp, b := do(t, app, eventReq(body)); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: %d %s", body, resp.StatusCode, b)
		}
	}
	if err := pipe.Aggregator.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows := map[[2]string]counter.WebCounts{}
	for k, c := range pipe.Sink.WebRows() {
		rows[[2]string{k.Dimension, k.Value}] = c
	}
	want := map[[2]string]int64{
		{"prop", "Purchase\tplan\tpro"}:      3,
		{"goal_prop", "Purchase\tplan\tpro"}: 3,
		{"goal", "Purchase"}:                 3,
		{"revenue", "Purchase\tEUR"}:         2,
		{"path", "/#/about"}:                 1,
	}
	for k, hits := range want {
		if rows[k].Hits != hits {
			t.Errorf("row %q: %+v, want %d hits", k, rows[k], hits)
		}
	}
	for k := range rows {
		if strings.Contains(k[1], "card") || strings.Contains(k[1], "4111") {
			t.Errorf("a prop outside the allow-list was counted: %q", k)
		}
	}
	if r := rows[[2]string{"revenue", "Purchase\tEUR"}].Revenue; r != 15_000_000 {
		t.Errorf("revenue %d micro-units, want 15,000,000", r)
	}
}

// post sends an event over a real connection (the body limit is the
// server's), as a browser would.
func post(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("User-Agent", chrome)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}
