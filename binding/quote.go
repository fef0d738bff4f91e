package binding

import (
	"strconv"
	"unicode/utf8"
)

// maxQuoted bounds how much of a file's content one error repeats: enough
// for any address, prefix, MAC or DNS label, while a line of junk, a key
// made of escape sequences or a binary blob shows as a short prefix.
const maxQuoted = 64

// quote is how every error shows a piece of a binding file: as a Go string
// literal, so that newlines, terminal escape sequences and invalid UTF-8 are
// escaped, and cut to its first maxQuoted bytes (at a character boundary)
// with "…" after the closing quote. A file's content then never reaches the
// log, the SIGUSR1 table or /bindings raw, nor at length.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	n := maxQuoted
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strconv.Quote(s[:n]) + "…"
}

// QuoteName returns a file or interface name as it is when it is plain
// printable text, else quoted as strconv.Quote does: a file in datapath can
// be named with newlines or escape sequences, and its name must not forge a
// line of the log or of a table.
func QuoteName(s string) string {
	if q := strconv.Quote(s); q[1:len(q)-1] != s {
		return q
	}
	return s
}

// maxUnknownKeys bounds Binding.UnknownKeys: a file of a thousand junk lines
// must not make a log line of them all.
const maxUnknownKeys = 32

// shown is s itself when it is plain and at most maxQuoted bytes, as keys
// written by management software are, else quote(s).
func shown(s string) string {
	if len(s) <= maxQuoted && QuoteName(s) == s {
		return s
	}
	return quote(s)
}
