package lab

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"
)

// HTTPGet fetches url from inside the lab's host namespace, where the daemon
// and its metrics endpoint run, and returns the status code and body.
func (l *Lab) HTTPGet(url string) (int, string, error) {
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialIn(ctx, l.HostNS, network, addr)
		},
	}
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// dialIn connects from namespace ns.
func dialIn(ctx context.Context, ns, network, addr string) (c net.Conn, err error) {
	err = InNamespace(ns, func() error {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}
