package main

import (
	"fmt"
	"net"
	"os"
)

// sdNotify tells systemd about the daemon's state when it runs as a
// Type=notify service: READY=1 once every existing binding is steered and
// every queue is read, STOPPING=1 as it begins to exit. It is a no-op when
// $NOTIFY_SOCKET is unset. A name starting with "@" is an abstract socket,
// which the net package maps itself.
func sdNotify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", name, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", name, err)
	}
	return nil
}
