package binding

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
)

func TestVMPort(t *testing.T) {
	for _, tt := range []struct {
		kind, want string
	}{
		{"tuntap", ""}, {"macvtap", ""}, {"veth", ""},
		{"device", "eth0: a physical device, not a VM port"},
		{"loopback", "eth0: the loopback device, not a VM port"},
		{"bridge", "eth0: a bridge, not a VM port"},
		{"bond", "eth0: a bond, not a VM port"},
		{"vlan", "eth0: a VLAN, not a VM port"},
		{"dummy", "eth0: a dummy device, not a VM port"},
		{"tun", "eth0: a TUN device (layer 3, no Ethernet), not a VM port"},
		{"openvswitch", "eth0: an Open vSwitch device, not a VM port"},
		{"wireguard", "eth0: a wireguard device, not a VM port"},
		{"ifb", "eth0: an ifb device, not a VM port"},
		{"", "eth0: a link of unknown kind, not a VM port"},
	} {
		err := VMPort(Link{Index: 2, Name: "eth0", Kind: tt.kind})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("kind %q: %v, want a VM port", tt.kind, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want || !errors.Is(err, ErrNotVMPort)):
			t.Errorf("kind %q: %v, want %q wrapping ErrNotVMPort", tt.kind, err, tt.want)
		}
	}
}

// syncBuffer is a log destination the store and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStoreVMPorts: a binding is activated only on a TAP, macvtap or veth.
// One named after a host interface is refused, with its reason in Status
// and once in the log, and never becomes an entry, so nothing is attached
// to that interface nor sent on it. A bridged TAP (INDEV the bridge) is
// bound, and a link that comes back as another kind is refused in turn.
func TestStoreVMPorts(t *testing.T) {
	dir := t.TempDir()
	mac := func(i byte) net.HardwareAddr { return net.HardwareAddr{0xfe, 0, 0, 0, 0, i} }
	links := []Link{
		{Index: 2, Name: "eth0", MAC: mac(2), Kind: "device"},
		{Index: 1, Name: "lo", Kind: "loopback"},
		{Index: 3, Name: "br0", MAC: mac(3), Kind: "bridge"},
		{Index: 4, Name: "bond0", MAC: mac(4), Kind: "bond"},
		{Index: 5, Name: "tun0", Kind: "tun"},
		{Index: 10, Name: "tap0", MAC: mac(10), Kind: "tuntap"},
		{Index: 11, Name: "mvtap0", MAC: mac(11), Kind: "macvtap"},
		{Index: 12, Name: "veth0", MAC: mac(12), Kind: "veth"},
		{Index: 13, Name: "tap5", MAC: mac(13), Kind: "tuntap", MasterIndex: 3},
	}
	for i, l := range links {
		extra := ""
		if l.Name == "tap5" {
			extra = "INDEV=br0\n"
		}
		writeFile(t, dir, l.Name, bindingText(fmt.Sprintf("aa:00:00:00:01:%02x", i), extra))
	}
	log := &syncBuffer{}
	fake := newFakeLinks(links...)
	s, changes := startStoreLog(t, dir, fake, slog.New(slog.NewTextHandler(log, nil)))
	nextChanges(t, changes, "activated tap0", "activated mvtap0", "activated veth0", "activated tap5")
	noChange(t, changes)
	if e := s.ByName("tap5"); e == nil || !e.Bridged || e.InDev.Name != "br0" {
		t.Errorf("bridged tap5: %+v", e)
	}
	for _, idx := range []int{1, 2, 3, 4, 5} {
		if s.ByIndex(idx) != nil {
			t.Errorf("ifindex %d has an entry", idx)
		}
	}
	status := func() string {
		var lines []string
		for _, st := range s.Status() {
			line := st.TAP
			switch {
			case st.Active:
				line += " active"
			case st.Err != nil:
				line += " err=" + st.Err.Error()
				if !errors.Is(st.Err, ErrNotVMPort) || st.Binding == nil {
					line += " (not ErrNotVMPort, or no binding)"
				}
			default:
				line += " waiting=" + st.Waiting
			}
			lines = append(lines, line)
		}
		return strings.Join(lines, "\n")
	}
	want := `bond0 err=bond0: a bond, not a VM port
br0 err=br0: a bridge, not a VM port
eth0 err=eth0: a physical device, not a VM port
lo err=lo: the loopback device, not a VM port
mvtap0 active
tap0 active
tap5 active
tun0 err=tun0: a TUN device (layer 3, no Ethernet), not a VM port
veth0 active`
	if got := status(); got != want {
		t.Errorf("Status:\n%s\nwant:\n%s", got, want)
	}

	// tap0 goes, and a dummy link takes its name: refused, and the
	// binding stays inactive. Its refusal is logged once, however many
	// times the store publishes.
	fake.ch <- LinkUpdate{Kind: LinksRemoved, Links: []Link{links[5]}}
	nextChange(t, changes, Deactivated, "tap0")
	fake.ch <- LinkUpdate{Kind: LinksChanged, Links: []Link{{Index: 20, Name: "tap0", MAC: mac(20), Kind: "dummy"}}}
	fake.ch <- LinkUpdate{Kind: LinksListed, Links: append(links[:5:5], Link{Index: 20, Name: "tap0", MAC: mac(20), Kind: "dummy"}, links[6], links[7], links[8])}
	s.Rescan()
	noChange(t, changes)
	want = strings.Replace(want, "\ntap0 active", "\ntap0 err=tap0: a dummy device, not a VM port", 1)
	if got := status(); got != want {
		t.Errorf("Status after tap0 came back as a dummy:\n%s\nwant:\n%s", got, want)
	}
	for _, name := range []string{"eth0: a physical device", "br0: a bridge", "tap0: a dummy device"} {
		if n := strings.Count(log.String(), `msg="binding refused" err="`+name+`, not a VM port"`); n != 1 {
			t.Errorf("%q logged %d times, want once:\n%s", name, n, log.String())
		}
	}

	// A TAP by that name again: active again.
	fake.ch <- LinkUpdate{Kind: LinksRemoved, Links: []Link{{Index: 20, Name: "tap0", Kind: "dummy"}}}
	fake.ch <- LinkUpdate{Kind: LinksChanged, Links: []Link{{Index: 21, Name: "tap0", MAC: mac(21), Kind: "tuntap"}}}
	if c := nextChange(t, changes, Activated, "tap0"); c.Entry.TAP.Index != 21 {
		t.Errorf("tap0 active on ifindex %d, want 21", c.Entry.TAP.Index)
	}
}
