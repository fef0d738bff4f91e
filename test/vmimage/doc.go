// Package vmimage builds what a qemu guest of the project's tests boots: a
// Debian kernel package fetched and cached once (Fetch), the modules the
// guest needs with their dependencies (StageModules), and a busybox
// initramfs holding the host's programs with their libraries (Stager,
// WriteCPIO, Initrd). `make vmtest` (test/vm) and the real-guest tests
// (test/guest) both boot images built here.
package vmimage
