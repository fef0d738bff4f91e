package binding

import "strings"

// Ignored reports whether a directory entry is not a binding file: dotfiles
// and the names editors, package managers and temp-file writers leave
// behind, so that writers can build a file under such a name and rename it
// into place.
func Ignored(name string) bool {
	switch {
	case name == "" || name[0] == '.' || name[0] == '#':
		return true // dotfiles, ".tap10.tmp", emacs "#tap10#"
	case strings.HasSuffix(name, "~"):
		return true
	case name == "4913":
		return true // vim probes a directory's writability with this name
	}
	for _, suffix := range []string{
		".swp", ".swo", ".swx", ".tmp", ".temp", ".bak", ".old", ".new", ".orig", ".rej",
		".dpkg-new", ".dpkg-old", ".dpkg-dist", ".dpkg-tmp", ".rpmnew", ".rpmsave", ".rpmorig",
	} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}
