package config

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// parser collects the errors of one file.
type parser struct {
	file  string
	cfg   *Config
	lines map[string]int // "section.key" -> line; "section" -> line of its header
	errs  []error
}

func newParser(name string) *parser {
	p := &parser{file: name, cfg: defaults(), lines: map[string]int{}}
	p.cfg.Path = name
	return p
}

func (p *parser) errf(line int, section, key, format string, a ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Section: section, Key: key, Err: fmt.Errorf(format, a...)})
}

// read parses every line, then checks what holds between keys.
func (p *parser) read(r io.Reader) {
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	section, skip := "", false
	for n := 1; sc.Scan(); n++ {
		line := stripComment(strings.TrimSpace(sc.Text()))
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "["):
			name, ok := strings.CutSuffix(line, "]")
			name = strings.TrimSpace(strings.TrimPrefix(name, "["))
			if !ok || name == "" {
				p.errf(n, "", "", "%q is not a [section] header", line)
				section, skip = "", true
				continue
			}
			section, skip = name, false
			if _, known := schema[name]; !known {
				p.errf(n, "", "", "[%s]: unknown section (did you mean [%s]?)", name, closest(name, slices.Collect(maps.Keys(schema))))
				skip = true // its keys would only repeat the error
				continue
			}
			if first, dup := p.lines[name]; dup {
				p.errf(n, name, "", "section given twice (first on line %d)", first)
				continue
			}
			p.lines[name] = n
		default:
			if skip {
				continue
			}
			key, val, ok := strings.Cut(line, "=")
			key = strings.TrimSpace(key)
			if !ok {
				p.errf(n, section, "", "%q is not key = value", line)
				continue
			}
			if section == "" {
				p.errf(n, "", "", "%s: key outside any section", key)
				continue
			}
			p.set(n, section, key, unquoteValue(strings.TrimSpace(val)))
		}
	}
	if err := sc.Err(); err != nil {
		p.errf(0, "", "", "read: %v", err)
	}
	p.check()
}

func (p *parser) set(n int, section, key, val string) {
	set, ok := schema[section][key]
	if !ok {
		hint := closest(key, slices.Collect(maps.Keys(schema[section])))
		for other, keys := range schema {
			if _, there := keys[key]; there && other != section {
				hint = key + " in [" + other + "]"
			}
		}
		p.errf(n, section, key, "unknown key (did you mean %s?)", hint)
		return
	}
	id := section + "." + key
	if first, dup := p.lines[id]; dup {
		p.errf(n, section, key, "given twice (first on line %d)", first)
		return
	}
	p.lines[id] = n
	if val == "" {
		return // "key =" leaves the default, as KEY= does in binding files
	}
	if err := set(p.cfg, val); err != nil {
		// Kept whole, so that errors.Is finds a key's named error.
		p.errs = append(p.errs, &Error{File: p.file, Line: n, Section: section, Key: key, Err: err})
	}
}

// stripComment drops a '#' comment that starts the line or follows
// whitespace, as in the seed's "datapath = /var/lib/nfdhcpd # Where ...".
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

func unquoteValue(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// closest returns the candidate nearest to s by edit distance, ties broken
// alphabetically so that messages are stable.
func closest(s string, candidates []string) string {
	slices.Sort(candidates)
	best, bestD := "", -1
	for _, c := range candidates {
		if d := editDistance(s, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
