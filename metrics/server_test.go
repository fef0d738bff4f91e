package metrics

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// pipeListener is a listener over in-memory pipes, so that the server runs
// inside a synctest bubble: its clock is the bubble's, and synctest.Wait
// tells when every goroutine is blocked. Its backlog holds what the
// server has not accepted, as the kernel's does.
type pipeListener struct {
	backlog chan net.Conn
	closed  chan struct{}
	once    sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{backlog: make(chan net.Conn, 64), closed: make(chan struct{})}
}

func (p *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-p.backlog:
		return c, nil
	case <-p.closed:
		return nil, net.ErrClosed
	}
}

func (p *pipeListener) Close() error   { p.once.Do(func() { close(p.closed) }); return nil }
func (p *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9367} }

// dial opens a connection, which waits in the backlog until accepted.
func (p *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	p.backlog <- server
	return client
}

// serveTest runs the endpoint over a pipeListener until the test ends.
func serveTest(t *testing.T) *pipeListener {
	ln := newPipeListener()
	srv := newServer(ln, NewHandler(testSources(t)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln
}

// get sends one keep-alive request for /healthz on c and returns the
// response's status, or the error.
func get(c net.Conn, br *bufio.Reader) (int, error) {
	if _, err := fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: metrics\r\n\r\n"); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// getAsync asks for / on c in the background; the channel gets the status.
func getAsync(t *testing.T, c net.Conn, name string) <-chan int {
	answered := make(chan int, 1)
	go func() {
		code, err := get(c, bufio.NewReader(c))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		answered <- code
	}()
	return answered
}

// received is what ch holds once every goroutine of the bubble is blocked,
// and whether it held anything.
func received[T any](ch <-chan T) (T, bool) {
	synctest.Wait()
	select {
	case v := <-ch:
		return v, true
	default:
		var zero T
		return zero, false
	}
}

// Past maxConns open connections, the next one is not served until one of
// them closes, and then it is.
func TestConnectionLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := serveTest(t)
		var open []net.Conn
		for i := range maxConns {
			c := ln.dial()
			defer c.Close()
			if code, err := get(c, bufio.NewReader(c)); code != 200 || err != nil {
				t.Fatalf("connection %d: %d, %v", i+1, code, err)
			}
			open = append(open, c)
		}

		extra := ln.dial()
		defer extra.Close()
		answered := getAsync(t, extra, fmt.Sprintf("connection %d", maxConns+1))
		if code, ok := received(answered); ok {
			t.Fatalf("connection %d answered %d while %d were open", maxConns+1, code, maxConns)
		}
		open[0].Close()
		code, ok := received(answered)
		if !ok {
			t.Fatalf("connection %d not answered once one of the %d closed", maxConns+1, maxConns)
		}
		if code != 200 {
			t.Errorf("connection %d answered %d once one closed", maxConns+1, code)
		}
	})
}

// A client that asks and never reads holds its connection, and its slot,
// for writeTimeout only: with every slot held so, the next connection is
// served once writeTimeout has passed, not before.
func TestWriteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := serveTest(t)
		for range maxConns {
			c := ln.dial()
			defer c.Close()
			// net.Pipe has no buffer: the response waits for a read that never comes.
			if _, err := fmt.Fprint(c, "GET /bindings HTTP/1.1\r\nHost: metrics\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
		}

		extra := ln.dial()
		defer extra.Close()
		answered := getAsync(t, extra, fmt.Sprintf("connection %d", maxConns+1))
		synctest.Wait()
		time.Sleep(writeTimeout - time.Nanosecond)
		if code, ok := received(answered); ok {
			t.Fatalf("connection %d answered %d before writeTimeout", maxConns+1, code)
		}
		time.Sleep(time.Nanosecond)
		code, ok := received(answered)
		if !ok {
			t.Fatalf("connection %d not answered after writeTimeout (%v): the clients that do not read hold every slot", maxConns+1, writeTimeout)
		}
		if code != 200 {
			t.Errorf("connection %d answered %d after writeTimeout", maxConns+1, code)
		}
	})
}

// A kept-alive connection is closed by the server once it has been idle
// for idleTimeout, not before.
func TestIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := serveTest(t)
		c := ln.dial()
		defer c.Close()
		br := bufio.NewReader(c)
		if code, err := get(c, br); code != 200 || err != nil {
			t.Fatalf("request: %d, %v", code, err)
		}
		closed := make(chan error, 1)
		go func() {
			_, err := br.ReadByte()
			closed <- err
		}()
		synctest.Wait()
		time.Sleep(idleTimeout - time.Nanosecond)
		if err, ok := received(closed); ok {
			t.Fatalf("closed %v before idleTimeout: %v", idleTimeout-time.Nanosecond, err)
		}
		time.Sleep(time.Nanosecond)
		err, ok := received(closed)
		if !ok {
			t.Fatalf("still open after idleTimeout (%v)", idleTimeout)
		}
		if err != io.EOF {
			t.Errorf("after idleTimeout: read %v, want EOF", err)
		}
	})
}

// /bindings lists every VM's MAC and addresses: the daemon warns when the
// endpoint is reachable from beyond the host, which Public tells.
func TestPublic(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{{"127.0.0.1:0", false}, {"[::1]:0", false}, {"127.0.0.2:0", false}, {"0.0.0.0:0", true}, {"[::]:0", true}} {
		s, err := Listen(tc.addr, http.NotFoundHandler())
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Public(); got != tc.want {
			t.Errorf("%s: Public() = %v, want %v", tc.addr, got, tc.want)
		}
		s.ln.Close()
	}
}
