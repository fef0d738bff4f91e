package main

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

func TestSdNotify(t *testing.T) {
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), "@nfdhcpd-test-notify-" + t.Name()} {
		ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("NOTIFY_SOCKET", name)
		if err := sdNotify("READY=1\nSTATUS=serving"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ln.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 256)
		n, err := ln.Read(buf)
		if err != nil || string(buf[:n]) != "READY=1\nSTATUS=serving" {
			t.Errorf("%s: read %q, %v", name, buf[:n], err)
		}
		ln.Close()
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v", err)
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "absent"))
	if err := sdNotify("READY=1"); err == nil {
		t.Error("no error for a socket that does not exist")
	}
}
