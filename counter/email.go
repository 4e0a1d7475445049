package counter

import "strings"

// Machine classes: the values of DimMachine rows, each a kind of machine
// that opens or clicks email on nobody's behalf. Opens and clicks counted
// under them are MachineOpens and MachineClicks, never a person's.
const (
	// MachineApplePrivacy is Apple Mail Privacy Protection: Apple's
	// proxies fetch every image of every message on delivery, read or not.
	MachineApplePrivacy = "apple_mpp"
	// MachineGmailPrefetch is Gmail's delivery-time fetcher: it loads the
	// images of a message for a signed-in session before anyone opens it.
	MachineGmailPrefetch = "gmail_prefetch"
	// MachineScannerAgent is a security gateway, link checker or other bot
	// that names itself in its user agent (or sends none).
	MachineScannerAgent = "scanner_agent"
	// MachineHead is a HEAD request on a link: a checker asking where it
	// leads, never a browser following it.
	MachineHead = "scanner_head"
	// MachinePrefetch is a speculative load (Sec-Purpose, Purpose, X-Moz:
	// prefetch), made before and whether or not anyone clicks.
	MachinePrefetch = "prefetch"
	// MachineBurst is a scanner that follows every link of a message (or
	// three of them) for one recipient within seconds.
	MachineBurst = "scanner_burst"
	// MachineHoneypot is a follow of the hidden honeypot link, which no
	// person sees, and of the recipient's other links within the same
	// seconds.
	MachineHoneypot = "honeypot"
)

// MachineClasses lists the classes in the order dashboards explain them.
var MachineClasses = []string{
	MachineApplePrivacy, MachineGmailPrefetch, MachineScannerAgent, MachineHead,
	MachinePrefetch, MachineBurst, MachineHoneypot,
}

// LinkValue is the value of a DimLink row: the link's label, a space and
// its destination's host and path (no scheme, query or fragment). A label
// holds no space (pixel.ValidLabel), so the first space splits them.
func LinkValue(label, target string) string { return label + " " + target }

// SplitLink splits a DimLink value into label and target.
func SplitLink(v string) (label, target string) {
	label, target, _ = strings.Cut(v, " ")
	return label, target
}
