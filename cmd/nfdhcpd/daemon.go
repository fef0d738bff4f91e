package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// childEnv marks the detached child of a daemon started without -f.
const childEnv = "NFDHCPD_DETACHED"

// runDaemon runs the daemon until it is told to stop. Without -f it detaches:
// it starts itself again in a new session with no terminal, and returns once
// that child reports ready (exit 0) or fails (its error, exit 1), so that an
// init script learns of a bad start.
func runDaemon(cfg *Config, opts flags) error {
	if opts.Foreground {
		return serve(cfg, true, opts.Debug, nil)
	}
	if os.Getenv(childEnv) == "" {
		return detach()
	}
	status := os.NewFile(3, "status")
	err := serve(cfg, false, opts.Debug, func() {
		fmt.Fprintln(status, "ready")
		status.Close()
	})
	if err != nil {
		fmt.Fprintln(status, err) // a no-op once ready closed it
	}
	return err
}

func detach() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	w.Close()
	var msg []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if sc.Text() == "ready" {
			return nil
		}
		msg = append(msg, sc.Text())
	}
	cmd.Wait()
	if len(msg) == 0 {
		return errors.New("the daemon exited during start (see the log in logdir)")
	}
	return errors.New(strings.Join(msg, "\n"))
}
