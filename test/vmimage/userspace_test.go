package vmimage

import (
	"reflect"
	"testing"
)

func TestParseLdd(t *testing.T) {
	out := `	linux-vdso.so.1 (0x00007ffd5a5f5000)
	libxtables.so.12 => /lib/x86_64-linux-gnu/libxtables.so.12 (0x00007f1c1c5d0000)
	libmnl.so.0 => /lib/x86_64-linux-gnu/libmnl.so.0 (0x00007f1c1c5c8000)
	libmissing.so.1 => not found
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1c1c3e7000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f1c1c62f000)
`
	want := []string{"/lib/x86_64-linux-gnu/libxtables.so.12", "/lib/x86_64-linux-gnu/libmnl.so.0",
		"/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}
	if got := parseLdd(out); !reflect.DeepEqual(got, want) {
		t.Errorf("parseLdd = %v, want %v", got, want)
	}
	if got := parseLdd("\tnot a dynamic executable\n"); got != nil {
		t.Errorf("static binary: %v, want none", got)
	}
}

func TestImagePackage(t *testing.T) {
	for in, want := range map[string]string{
		"linux-image-amd64\n  Depends: linux-image-6.12.117+deb13-amd64\n":                        "linux-image-6.12.117+deb13-amd64",
		"linux-image-amd64\n  Depends: initramfs-tools\n  Depends: linux-image-5.10.0-32-amd64\n": "linux-image-5.10.0-32-amd64",
		"linux-image-amd64\n": "",
	} {
		if got := imagePackage(in); got != want {
			t.Errorf("imagePackage(%q) = %q, want %q", in, got, want)
		}
	}
}
