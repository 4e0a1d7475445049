package main

import (
	"net/http"
	"testing"

	"tally/pixel"
)

const uaThunderbird = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.10.1"

// TestStrictEmailOpenWithoutConsentCountsOnlyTheOpen: on a strict site, a
// signed open pixel without the consent bit counts in the campaign's total
// and nowhere else (no mail client, no country, no region, no unique
// open), through the real server and ClickHouse; with the bit it is
// counted in full.
func TestStrictEmailOpenWithoutConsentCountsOnlyTheOpen(t *testing.T) {
	r := startCollector(t)
	open := func(campaign, recipient string, consent bool) {
		t.Helper()
		u := pixel.EmailURL("", []byte(secret), pixel.Claims{Site: "strict.example", Campaign: campaign, Recipient: recipient, Consent: consent})
		if status, _ := r.send(t, hit{path: u, ip: ipDE, ua: uaThunderbird}); status != http.StatusOK {
			t.Fatalf("open pixel: %d", status)
		}
	}
	open("nocon", "r1", false)
	open("nocon", "r1", false)
	open("nocon", "r2", false)
	open("con", "r1", true)
	open("con", "r1", true)
	r.stop()

	got := r.emailCounters(t)
	want := map[string][4]int64{ // sent, opens, unique opens, machine opens
		"strict.example|nocon|total|":           {0, 3, 0, 0},
		"strict.example|con|total|":             {0, 2, 1, 0},
		"strict.example|con|client|Thunderbird": {0, 2, 1, 0},
		"strict.example|con|country|DE":         {0, 2, 1, 0},
		"strict.example|con|region|DE-BY":       {0, 2, 1, 0},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %v, want %v", k, got[k], w)
		}
	}
	for k, c := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected row %s: %v", k, c)
		}
	}
}
