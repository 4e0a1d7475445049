package useragent

import "strings"

// The tables in this file are ours, not a published list's: what the
// lists miss or file under the wrong reason. Patterns are regular
// expressions matched case-insensitively anywhere in the header, like the
// lists' own. Every entry was checked against the browser samples in
// testdata/ (TestBrowsersPass fails on a pattern that flags one).

// droppedPatterns are published patterns we leave out, each because it
// flags real browsers in the samples (tools/uabench prints what each
// pattern catches and flags).
var droppedPatterns = []struct{ list, pattern, why string }{
	{ListCrawlerUserAgents, `Butterfly`, "HTC Butterfly phones (CrawlerDetect's devices.txt: 9 headers)"},
	{ListCrawlerUserAgents, `Blackboard`, "the Blackboard app's in-app browser (devices.txt: 19)"},
	{ListCrawlerUserAgents, `Freespoke\/`, "the Freespoke browser app (npm user-agents sample)"},
}

// aiPatterns are AI crawlers, agents and assistants fetching pages for a
// model or on a person's request. Together with crawler-user-agents'
// "ai-crawler" entries they make the ai_agent reason, checked before the
// crawler lists so that these hits are counted apart from search engines.
var aiPatterns = []string{
	`chatgpt`,              // ChatGPT-User, ChatGPT Agent
	`\bopenai\b`,           // OpenAI's fetchers that name the company only
	`gptbot`,               // OpenAI's training crawler
	`oai-searchbot`,        // OpenAI search
	`claude`,               // ClaudeBot, Claude-User, Claude-SearchBot, claude-code
	`anthropic`,            // anthropic-ai
	`perplexity`,           // PerplexityBot, Perplexity-User
	`cohere`,               // cohere-ai, cohere-training-data-crawler
	`mistralai`,            // MistralAI-User
	`meta-external`,        // meta-externalagent, meta-externalfetcher
	`gemini-deep-research`, // Google Gemini's research agent
	`google-notebooklm`,    //
	`duckassistbot`,        // DuckDuckGo's AI answers
	`youbot`,               // You.com
	`\bai2bot`,             // Allen Institute
	`bytespider`,           // ByteDance's training crawler
	`\bccbot`,              // Common Crawl, the base of most training sets
	`diffbot`,              //
	`timpibot`,             //
	`imagesiftbot`,         //
	`omgili`,               // Webz.io's data for model training
	`manus-user`,           // Manus agent
	`novaact`,              // Amazon Nova Act browser agent
	`firecrawl`,            // scraping for LLM pipelines
	`crawl4ai`,             //
	`jina-reader|jina\.ai`, //
	`tavilybot`,            //
	`\bcursor/`,            // the Cursor editor's fetch tool
	`\bdevin\b`,            // Cognition's Devin agent
}

// automationPatterns are headless browsers and browser-automation tools.
// A real browser under automation sends a real browser's header plus one
// of these; without one, the tracker's navigator.webdriver report is the
// signal (see Automated).
var automationPatterns = []string{
	`headless`, // HeadlessChrome, Firefox headless builds
	`phantomjs`,
	`slimerjs`,
	`casperjs`,
	`htmlunit`,
	`\bjsdom\b`,
	`nightmare`,
	`cypress`,
	`puppeteer`,
	`playwright`,
	`selenium`,
	`webdriver`,
	`zombie\.js`,
	`lighthouse`, // Chrome-Lighthouse and PageSpeed audits
}

// libraryPatterns are HTTP libraries, frameworks and command-line clients:
// programs, not browsers, whatever else the header says.
var libraryPatterns = []string{
	`\bcurl/`, `libcurl`, `\bwget\b`, `httpie`, `aria2`,
	`python`, `aiohttp`, `\bhttpx\b`, `\burllib`, `\bscrapy`, `\bmechanize`,
	`go-http-client`, `\bgo-resty`, `\bcolly\b`, `fasthttp`,
	`okhttp`, `^java/`, `apache-httpclient`, `jakarta commons`, `\bjersey/`,
	`\baxios/`, `node-fetch`, `\bundici\b`, `^node/`, `\bgot \(`, `\bdeno/`, `^bun/`,
	`libwww-perl`, `\blwp::`, `guzzlehttp`, `\bphp/`, `\bruby\b`, `\bfaraday\b`, `rest-client`, `http\.rb`,
	`restsharp`, `\bwinhttp`, `\bpowershell`, `cpp-httplib`, `reqwest`, `\bhyper/`, `\bdart/`, `dart:io`,
	`postmanruntime`, `insomnia/`, `\bcfnetwork/`, `^dalvik/`, `^okhttp`, `\bpycurl`,
}

// notBrowserShape reports whether ua cannot be a browser's header: every
// browser of the last fifteen years starts with "Mozilla/" (legacy Opera and
// feature-phone browsers excepted below), and none puts a URL or an e-mail
// address in it. ua is the header as sent; lower is its lower-cased copy.
func notBrowserShape(ua, lower string) bool {
	if !strings.HasPrefix(ua, "Mozilla/") && !legacyBrowser(ua) {
		return true
	}
	return strings.Contains(lower, "http:") || strings.Contains(lower, "https:") ||
		strings.Contains(lower, "www.") || hasEmail(lower)
}

// legacyBrowser recognises the browsers that predate the Mozilla/ form and
// still appear in real traffic: Presto Opera and Opera Mini ("Opera/9.80
// (J2ME/MIDP; Opera Mini/…"), old UC Browser ("UCWEB/2.0 …"), and
// J2ME/BlackBerry feature phones' own browsers, which name their profile
// ("… Profile/MIDP-2.0 Configuration/CLDC-1.1").
func legacyBrowser(ua string) bool {
	return strings.HasPrefix(ua, "Opera/") || strings.HasPrefix(ua, "UCWEB") ||
		strings.Contains(ua, "MIDP-") || strings.HasPrefix(ua, "BlackBerry")
}

// hasEmail reports whether s holds something shaped like name@host.tld:
// the top-level label must be letters, so that "android@150.0.0.0" (how
// Ecosia's browser names its version) is not one.
func hasEmail(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] != '@' || !emailByte(s[i-1]) {
			continue
		}
		j := i + 1
		for j < len(s) && (emailByte(s[j]) || s[j] == '.') {
			j++
		}
		host := strings.TrimRight(s[i+1:j], ".")
		dot := strings.LastIndexByte(host, '.')
		if dot <= 0 || len(host)-dot-1 < 2 {
			continue
		}
		tld := host[dot+1:]
		if strings.Trim(tld, "abcdefghijklmnopqrstuvwxyz") == "" {
			return true
		}
	}
	return false
}

func emailByte(b byte) bool {
	return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_' || b == '+'
}
