package daemon

// ParsedFiles is how many fleet files d's loads have parsed rather than
// taken from the last good load (spec.Cache.Parsed).
func ParsedFiles(d *Daemon) int { return d.parsed.Parsed() }
