package pixel

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the inputs it holds")

// vectorFile is testdata/vectors.json: the signing recipes' test vectors
// for email systems that sign in another language.
type vectorFile struct {
	About   []string `json:"about"`
	Vectors []vector `json:"vectors"`
	// Refused are destinations that no signer may sign (ValidDestination).
	Refused []string `json:"refused_destinations"`
}

type vector struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"` // "click" or "open"
	Secret      string `json:"secret"`
	Base        string `json:"base"`
	Site        string `json:"site"`
	Campaign    string `json:"campaign"`
	Label       string `json:"label,omitempty"`
	Destination string `json:"destination,omitempty"`
	Recipient   string `json:"recipient"`
	Consent     bool   `json:"consent"`
	KeyID       string `json:"key_id"`
	Expires     int64  `json:"expires"`
	Links       int    `json:"links,omitempty"`
	Honeypot    bool   `json:"honeypot,omitempty"`
	// Expected: the exact MAC input, the signature and the URL.
	MACInput  string `json:"mac_input"`
	Signature string `json:"signature"`
	URL       string `json:"url"`
}

// documentedInput is the MAC input as the README writes it, built here
// apart from the package's encoder.
func (v vector) documentedInput() string {
	b := func(x bool) string {
		if x {
			return "1"
		}
		return "0"
	}
	x := strconv.FormatInt(v.Expires, 10)
	switch {
	case v.Kind == "click":
		return "tally-click-v1\n" + v.KeyID + "\n" + x + "\n" + v.Site + "\n" + v.Campaign + "\n" + v.Label + "\n" +
			strconv.Itoa(v.Links) + "\n" + b(v.Honeypot) + "\n" + b(v.Consent) + "\n" + v.Destination + "\n" + v.Recipient
	case v.KeyID != "" || v.Expires != 0:
		return "tally-open-v2\n" + v.KeyID + "\n" + x + "\n" + v.Site + "\n" + v.Campaign + "\n" + b(v.Consent) + "\n" + v.Recipient
	}
	return "tally-open-v1\n" + v.Site + "\n" + v.Campaign + "\n" + v.Recipient + "\n" + b(v.Consent)
}

// TestVectors checks every vector of testdata/vectors.json: the MAC input
// is the documented one, the signature its HMAC, and ClickURL or EmailURL
// build the expected URL, which the package verifies. An email system in
// another language checks its signer against the same file.
func TestVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 6 || len(f.Refused) < 10 {
		t.Fatalf("%d vectors and %d refused destinations: too few to pin the recipes", len(f.Vectors), len(f.Refused))
	}
	kinds := map[string]int{}
	for i := range f.Vectors {
		v := &f.Vectors[i]
		kinds[v.Kind]++
		in := v.documentedInput()
		m := hmac.New(sha256.New, []byte(v.Secret))
		m.Write([]byte(in))
		sig := base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
		var got string
		var ok bool
		switch v.Kind {
		case "click":
			l := Link{Site: v.Site, Campaign: v.Campaign, Label: v.Label, Destination: v.Destination, Recipient: v.Recipient,
				Consent: v.Consent, KeyID: v.KeyID, Expires: v.Expires, Links: v.Links, Honeypot: v.Honeypot}
			if got, err = ClickURL(v.Base, []byte(v.Secret), l); err != nil {
				t.Fatalf("%s: %v", v.Name, err)
			}
			ok = NewKey([]byte(v.Secret)).VerifyLink(l, sig)
		case "open":
			c := Claims{Site: v.Site, Campaign: v.Campaign, Recipient: v.Recipient, Consent: v.Consent, KeyID: v.KeyID, Expires: v.Expires}
			got = EmailURL(v.Base, []byte(v.Secret), c)
			ok = Verify([]byte(v.Secret), c, sig)
		default:
			t.Fatalf("%s: kind %q", v.Name, v.Kind)
		}
		if !ok {
			t.Errorf("%s: the documented signature does not verify", v.Name)
		}
		if u, err := url.Parse(got); err != nil || u.Query().Get("s") != sig {
			t.Errorf("%s: the URL %s does not carry the documented signature %s", v.Name, got, sig)
		}
		if *update {
			v.MACInput, v.Signature, v.URL = in, sig, got
			continue
		}
		if v.MACInput != in || v.Signature != sig || v.URL != got {
			t.Errorf("%s:\nmac input %q\n     want %q\nsignature %s, want %s\nurl %s\nwant %s", v.Name, in, v.MACInput, sig, v.Signature, got, v.URL)
		}
	}
	if kinds["click"] < 4 || kinds["open"] < 2 {
		t.Errorf("vectors by kind: %v", kinds)
	}
	for _, d := range f.Refused {
		if ValidDestination(d) == nil {
			t.Errorf("%q is listed as refused but ValidDestination accepts it", d)
		}
	}
	if *update {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("testdata/vectors.json", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
