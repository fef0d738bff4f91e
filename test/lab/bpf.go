package lab

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/link"
)

// PinnedTCXLinks lists the TCX links pinned under pinPath/links whose
// program is attached to ifindex.
func PinnedTCXLinks(pinPath string, ifindex int) ([]string, error) {
	dir := filepath.Join(pinPath, "links")
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		idx, _, ok := strings.Cut(e.Name(), "-")
		if n, err := strconv.Atoi(idx); !ok || err != nil || n != ifindex {
			continue
		}
		l, err := link.LoadPinnedLink(filepath.Join(dir, e.Name()), nil)
		if err != nil {
			return nil, err
		}
		info, err := l.Info()
		l.Close()
		if err != nil {
			return nil, err
		}
		if tcx := info.TCX(); tcx != nil && int(tcx.Ifindex) == ifindex {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Ifindex is the ifindex of a link in the host namespace.
func (l *Lab) Ifindex(name string) int {
	l.t.Helper()
	out := l.Host("cat", "/sys/class/net/"+name+"/ifindex")
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		l.t.Fatalf("ifindex of %s: %q", name, out)
	}
	return n
}
