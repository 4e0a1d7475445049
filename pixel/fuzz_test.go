package pixel

import (
	"strings"
	"testing"
)

// FuzzVerify: a signature verifies only as Sign's own output for exactly
// the signed claims, and Verify never panics.
func FuzzVerify(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef"), "example.com", "spring", "r-42", true, "")
	f.Add([]byte("k"), "a\nb", "c", "d\n1", false, "AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, secret []byte, site, campaign, recipient string, consent bool, sig string) {
		c := Claims{Site: site, Campaign: campaign, Recipient: recipient, Consent: consent}
		good := Sign(secret, c)
		if Verify(secret, c, sig) && sig != good {
			t.Fatalf("%q verifies for %+v but is not its signature %q", sig, c, good)
		}
		ambiguous := strings.Contains(site, "\n") || strings.Contains(campaign, "\n")
		if ok := Verify(secret, c, good); ok != (len(secret) > 0 && !ambiguous) {
			t.Fatalf("Verify(Sign(%+v)) = %v with secret %q", c, ok, secret)
		}
		// Any change of one character breaks the signature.
		for i := range good {
			b := []byte(good)
			b[i] ^= 1
			if Verify(secret, c, string(b)) {
				t.Fatalf("a signature with character %d changed verifies", i)
			}
		}
		// So does any change of a claim.
		for _, other := range []Claims{
			{Site: site + "x", Campaign: campaign, Recipient: recipient, Consent: consent},
			{Site: site, Campaign: campaign + "x", Recipient: recipient, Consent: consent},
			{Site: site, Campaign: campaign, Recipient: recipient + "x", Consent: consent},
			{Site: site, Campaign: campaign, Recipient: recipient, Consent: !consent},
		} {
			if Verify(secret, other, good) {
				t.Fatalf("the signature of %+v verifies %+v", c, other)
			}
		}
	})
}
