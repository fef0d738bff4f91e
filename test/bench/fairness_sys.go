package bench

import (
	"errors"

	"golang.org/x/sys/unix"
)

func writeFD(fd int, b []byte) (int, error) { return unix.Write(fd, b) }

func isAgain(err error) bool { return errors.Is(err, unix.EAGAIN) }
