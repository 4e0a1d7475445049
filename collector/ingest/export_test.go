package ingest

// OptionsOf is p's options after New filled the defaults.
func OptionsOf(p *Pipeline) Options { return p.opts }
