// Package channel owns the grouping of traffic sources into channels:
// direct, search, social, email, ai, paid and referral. The whole grouping
// is the table in channel.go; the dashboard and the README describe it
// from Describe, so the words and the code cannot drift apart.
//
// A channel is decided from what the collector already keeps of a visit's
// origin: the source (collector/referrer.Source: an explicit ref or
// utm_source tag, else a known name such as "Google", else the referrer's
// host) and the utm_medium tag. Nothing finer is needed or kept.
//
// AI assistants get their own channel: visits whose source is chatgpt.com
// (ChatGPT tags its links with utm_source=chatgpt.com), perplexity.ai,
// gemini.google.com, copilot.microsoft.com, claude.ai and the like, next to
// search and social, so that a site sees how many people an assistant
// sent it.
package channel
