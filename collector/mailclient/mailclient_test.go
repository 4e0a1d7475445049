package mailclient

import (
	"testing"

	"tally/counter"
)

// TestClassify: each fetcher with its real agent.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		ua    string
		want  Client
		known bool
	}{
		{AppleProxyAgent, Client{Name: "Apple Mail (privacy proxy)", Machine: true, Class: counter.MachineApplePrivacy}, true},
		{GmailPrefetchAgent, Client{Name: "Gmail (delivery prefetch)", Machine: true, Class: counter.MachineGmailPrefetch}, true},
		{GmailProxyAgent, Client{Name: "Gmail (via proxy)"}, true},
		{YahooProxyAgent, Client{Name: "Yahoo Mail (via proxy)"}, true},
		{"Mozilla/5.0 (compatible; YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html)", Client{Name: "Yahoo Mail (via proxy)"}, true},
		{"Barracuda Sentinel (EE)", Client{Name: "Security scanner", Machine: true, Class: counter.MachineScannerAgent}, true},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Microsoft Office Existence Discovery", Client{Name: "Security scanner", Machine: true, Class: counter.MachineScannerAgent}, true},
		{"", Client{Name: "Security scanner", Machine: true, Class: counter.MachineScannerAgent}, true},
		{"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)", Client{Name: "Outlook"}, true},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)", Client{Name: "Apple Mail"}, true},
		// A person's browser, and Chrome's real agent that the Gmail
		// prefetcher's resembles, are not recognised here.
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", Client{}, false},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/42.0.2311.135 Safari/537.36 Edge/12.246", Client{}, false},
	} {
		got, ok := Classify(tc.ua)
		if got != tc.want || ok != tc.known {
			t.Errorf("Classify(%q) = %+v, %v; want %+v, %v", tc.ua, got, ok, tc.want, tc.known)
		}
	}
}
