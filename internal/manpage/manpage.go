// Package manpage reads the entries of the project's scdoc man page
// sources, so that tests can hold the pages to the flags and keys the code
// has.
package manpage

import (
	"os"
	"strings"
)

// Entries splits a man page source into its sections ("# NAME" headers)
// and, within each, its entries: a line starting with "*term*" and the
// indented lines under it.
func Entries(path string) (map[string][]string, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string)
	section := ""
	for _, line := range strings.Split(string(text), "\n") {
		switch {
		case strings.HasPrefix(line, "# "):
			section = strings.TrimPrefix(line, "# ")
		case strings.HasPrefix(line, "*"):
			out[section] = append(out[section], line)
		case strings.HasPrefix(line, "\t") && len(out[section]) > 0:
			out[section][len(out[section])-1] += "\n" + line
		}
	}
	return out, nil
}

// Find returns the entry of section whose term line names *name*, or "".
func Find(entries map[string][]string, section, name string) string {
	for _, e := range entries[section] {
		term, _, _ := strings.Cut(e, "\n")
		if strings.Contains(term, "*"+name+"*") {
			return e
		}
	}
	return ""
}
