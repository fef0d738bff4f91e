package loader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

const bpffsRoot = "/sys/fs/bpf"

// ensureBPFFS makes sure pinPath lies on a BPF filesystem, mounting one at
// /sys/fs/bpf when that is where it belongs and nothing is mounted yet
// (minimal hosts and containers often lack it). It reports whether it
// mounted one.
func ensureBPFFS(pinPath string) (bool, error) {
	dir := pinPath
	for {
		if _, err := os.Stat(dir); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false, fmt.Errorf("%w: statfs %s: %w", ErrUnsupported, dir, err)
	}
	if st.Type == unix.BPF_FS_MAGIC {
		return false, nil
	}
	if pinPath != bpffsRoot && !strings.HasPrefix(pinPath, bpffsRoot+"/") {
		return false, fmt.Errorf("%w: bpf_pin_path %s is not on a bpf filesystem", ErrUnsupported, pinPath)
	}
	if err := os.MkdirAll(bpffsRoot, 0o755); err != nil {
		return false, fmt.Errorf("%w: create %s: %w", ErrUnsupported, bpffsRoot, err)
	}
	err := unix.Mount("bpf", bpffsRoot, "bpf", 0, "mode=0700")
	if errors.Is(err, unix.EBUSY) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: mount bpffs at %s: %w", ErrUnsupported, bpffsRoot, err)
	}
	return true, nil
}
