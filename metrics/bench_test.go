package metrics

import (
	"fmt"
	"net"
	"testing"

	"github.com/nfdhcpd/nfdhcpd/binding"
	nfqpkg "github.com/nfdhcpd/nfdhcpd/nfq"
)

// manyBindings is a store's view with n active bindings.
type manyBindings struct {
	st []binding.FileStatus
	es []*binding.Entry
}

func newManyBindings(n int) *manyBindings {
	m := &manyBindings{}
	for i := range n {
		b := &binding.Binding{TAP: fmt.Sprintf("tap%d", i), MAC: net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)}, Hostname: "vm"}
		m.st = append(m.st, binding.FileStatus{TAP: b.TAP, Path: "/b/" + b.TAP, Active: true, Binding: b})
		m.es = append(m.es, &binding.Entry{Binding: b, TAP: binding.Link{Name: b.TAP, Index: i + 1}})
	}
	return m
}

func (m *manyBindings) Status() []binding.FileStatus { return m.st }
func (m *manyBindings) Entries() []*binding.Entry    { return m.es }
func (m *manyBindings) ByName(tap string) *binding.Entry {
	for _, e := range m.es {
		if e.TAP.Name == tap {
			return e
		}
	}
	return nil
}

// BenchmarkScrape is one /metrics scrape's collection with 2000 bindings
// (iptables steering: no classifier reads).
func BenchmarkScrape(b *testing.B) {
	src := &Sources{Version: "bench", Steering: "iptables", Stats: &nfqpkg.Stats{}, Bindings: newManyBindings(2000)}
	reg := registry(NewCollector(src))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
