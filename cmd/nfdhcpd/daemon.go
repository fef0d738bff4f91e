package main

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/nfdhcpd/nfdhcpd/config"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// childEnv marks the detached child of a daemon started without -f.
const childEnv = "NFDHCPD_DETACHED"

// DefaultStartTimeout is how long a detached start waits for the daemon to
// be ready (--start-timeout). A start with 10,000 TAPs takes about a second
// with attach = auto, but minutes with attach = tcx.
const DefaultStartTimeout = 30 * time.Second

// DefaultStopTimeout is how long a stop may take (--stop-timeout): within a
// second, as a supervisor expects, with room for removing the netfilter
// rules. A slow host (an emulated one takes seconds) needs more, or it
// leaves the rules behind.
const DefaultStopTimeout = 800 * time.Millisecond

// childStopSlack is how much longer than the child's --stop-timeout the
// launcher waits for a child it told to stop (SIGTERM) before it kills it.
const childStopSlack = time.Second

// runDaemon runs the daemon until it is told to stop. Without -f it detaches:
// it starts itself again in a new session with no terminal, and returns once
// that child reports ready (exit 0) or fails (its error, exit 1), so that an
// init script learns of a bad start.
func runDaemon(cfg *config.Config, opts flags) error {
	so := serveOptions{Foreground: opts.Foreground, Debug: opts.Debug, JSON: opts.JSON, StopTimeout: opts.StopTimeout}
	if opts.Foreground {
		return serve(cfg, so, nil)
	}
	if os.Getenv(childEnv) == "" {
		return detach(opts.StartTimeout, opts.StopTimeout+childStopSlack)
	}
	status := &statusPipe{f: os.NewFile(3, "status")}
	err := serve(cfg, so, status)
	if err != nil {
		status.Failed(err) // a no-op once ready closed it
	}
	return err
}

// The child reports to its launcher over a pipe, one line at a time:
// "log LINE" for each line it logs while starting, then "ready", or
// "error LINE" for each line of why it stopped.
const (
	statusReady = "ready"
	statusLog   = "log "
	statusError = "error "
)

// statusPipe is the child's end of the pipe; every method is a no-op once
// the pipe is closed (after ready, or when the launcher is gone).
type statusPipe struct {
	mu sync.Mutex
	f  *os.File
}

// Log reports a line of the log (as the log writes it, newline included).
func (s *statusPipe) Log(line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		s.f.Write(append([]byte(statusLog), line...))
	}
}

// Ready reports that the daemon serves, and closes the pipe.
func (s *statusPipe) Ready() { s.end(statusReady + "\n") }

// Failed reports why the daemon stopped, and closes the pipe.
func (s *statusPipe) Failed(err error) {
	var b strings.Builder
	for _, line := range strings.Split(err.Error(), "\n") {
		b.WriteString(statusError + line + "\n")
	}
	s.end(b.String())
}

func (s *statusPipe) end(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		s.f.WriteString(msg)
		s.f.Close()
		s.f = nil
	}
}

// teeStatus writes the log to w and, while the daemon starts, to the
// launcher too.
type teeStatus struct {
	w      io.Writer
	status *statusPipe
}

func (t teeStatus) Write(p []byte) (int, error) {
	t.status.Log(p)
	return t.w.Write(p)
}

// detach starts the daemon as a child in a new session and waits until it
// is ready, for at most timeout. When it fails, it returns the child's
// error; when it is not ready in time, or the launcher itself is told to
// stop (SIGTERM, SIGINT: `timeout 20 nfdhcpd`, Ctrl-C), it stops the child
// the orderly way (SIGTERM: the child undoes what it
// set up), kills it if it is still there after stopWait, and returns
// an error with the child's last log line.
func detach(timeout, stopWait time.Duration) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)

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
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var last string // the child's last log line
	var failed []string
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case line, ok := <-lines:
			switch {
			case !ok:
				<-exited
				if len(failed) > 0 {
					return errors.New(strings.Join(failed, "\n"))
				}
				return fmt.Errorf("the daemon exited during start; %s", lastLine(last))
			case line == statusReady:
				return nil
			case strings.HasPrefix(line, statusLog):
				last = strings.TrimPrefix(line, statusLog)
			case strings.HasPrefix(line, statusError):
				failed = append(failed, strings.TrimPrefix(line, statusError))
			}
		case <-deadline.C:
			stopChild(cmd, exited, stopWait)
			return fmt.Errorf("the daemon was not ready within %v (--start-timeout), and was stopped; %s", timeout, lastLine(last))
		case s := <-sig:
			stopChild(cmd, exited, stopWait)
			return fmt.Errorf("%s while the daemon was starting: it was stopped; %s", signalName(s), lastLine(last))
		}
	}
}

func lastLine(l string) string {
	if l == "" {
		return "it logged nothing"
	}
	return "its last log line: " + l
}

// stopChild sends the child SIGTERM and waits for it to exit, killing it
// after wait.
func stopChild(cmd *exec.Cmd, exited <-chan struct{}, wait time.Duration) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(wait):
		cmd.Process.Kill()
		<-exited
	}
}
