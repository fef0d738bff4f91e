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
// (minimal hosts and containers often lack it).
func ensureBPFFS(pinPath string) error {
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
		return fmt.Errorf("%w: statfs %s: %w", ErrUnsupported, dir, err)
	}
	if st.Type == unix.BPF_FS_MAGIC {
		return nil
	}
	if pinPath != bpffsRoot && !strings.HasPrefix(pinPath, bpffsRoot+"/") {
		return fmt.Errorf("%w: bpf_pin_path %s is not on a bpf filesystem", ErrUnsupported, pinPath)
	}
	if err := os.MkdirAll(bpffsRoot, 0o755); err != nil {
		return fmt.Errorf("%w: create %s: %w", ErrUnsupported, bpffsRoot, err)
	}
	if err := unix.Mount("bpf", bpffsRoot, "bpf", 0, "mode=0700"); err != nil && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("%w: mount bpffs at %s: %w", ErrUnsupported, bpffsRoot, err)
	}
	return nil
}
