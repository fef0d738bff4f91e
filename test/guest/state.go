package guest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// State is what a guest recorded before powering off: what its kernel
// applied to eth0 (from iproute2's JSON, sysctl and /proc), and the files
// its clients wrote (scripts' environments, resolv.conf copies, lease and
// link state files, logs).
type State struct {
	MTU    int // eth0's link MTU
	MTU6   int // net.ipv6.conf.eth0.mtu, which an RA's MTU option sets
	Addrs  []Addr
	Routes []Route // IPv4 and IPv6, main table
	Neigh6 []Neighbour
	Snmp6  map[string]int // /proc/net/snmp6 counters
	Files  map[string]string
}

// Addr is one of eth0's addresses.
type Addr struct {
	Prefix    netip.Prefix
	Scope     string
	Dynamic   bool   // from SLAAC or a DHCP lease: it expires
	Valid     uint32 // seconds; 0xffffffff is forever
	Preferred uint32
}

// Route is one route of the main table.
type Route struct {
	Dst      string // "default" or a prefix
	Gateway  netip.Addr
	Dev      string
	Protocol string // kernel, ra, dhcp, boot (ip route add), ...
	Metric   int
	MTU      int // the route's mtu metric, when set
	Expires  int // seconds, for routes with a lifetime (a router's)
}

// Neighbour is one entry of the IPv6 neighbour table.
type Neighbour struct {
	Addr   netip.Addr
	LLAddr net.HardwareAddr
	Router bool
	State  []string // REACHABLE, STALE, ...
}

// ReadState reads the files a guest wrote to its share.
func ReadState(dir string) (*State, error) {
	st := &State{Files: map[string]string{}}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		st.Files[rel] = string(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if e := st.Files["setup-errors"]; e != "" {
		return nil, fmt.Errorf("the guest's setup failed: %s", strings.TrimSpace(e))
	}
	if st.MTU, st.Addrs, err = parseAddrs(st.Files["addr.json"]); err != nil {
		return nil, fmt.Errorf("addr.json: %w", err)
	}
	for _, f := range []string{"route4.json", "route6.json"} {
		r, err := parseRoutes(st.Files[f])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		st.Routes = append(st.Routes, r...)
	}
	if st.Neigh6, err = parseNeighbours(st.Files["neigh6.json"]); err != nil {
		return nil, fmt.Errorf("neigh6.json: %w", err)
	}
	if st.MTU6, err = strconv.Atoi(strings.TrimSpace(st.Files["mtu6"])); err != nil {
		return nil, fmt.Errorf("mtu6: %w", err)
	}
	st.Snmp6 = parseSnmp6(st.Files["snmp6"])
	return st, nil
}

// parseAddrs reads `ip -j addr show dev eth0`: the link's MTU and its
// addresses.
func parseAddrs(js string) (int, []Addr, error) {
	var links []struct {
		MTU   int `json:"mtu"`
		Addrs []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
			Scope     string `json:"scope"`
			Dynamic   *bool  `json:"dynamic"`
			Valid     uint32 `json:"valid_life_time"`
			Preferred uint32 `json:"preferred_life_time"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(js), &links); err != nil {
		return 0, nil, err
	}
	if len(links) != 1 {
		return 0, nil, fmt.Errorf("%d links, want eth0 alone", len(links))
	}
	var out []Addr
	for _, a := range links[0].Addrs {
		ip, err := netip.ParseAddr(a.Local)
		if err != nil {
			return 0, nil, err
		}
		out = append(out, Addr{Prefix: netip.PrefixFrom(ip, a.PrefixLen), Scope: a.Scope,
			Dynamic: a.Dynamic != nil && *a.Dynamic, Valid: a.Valid, Preferred: a.Preferred})
	}
	return links[0].MTU, out, nil
}

// parseRoutes reads `ip -j route show`.
func parseRoutes(js string) ([]Route, error) {
	var routes []struct {
		Dst      string `json:"dst"`
		Gateway  string `json:"gateway"`
		Dev      string `json:"dev"`
		Protocol string `json:"protocol"`
		Metric   int    `json:"metric"`
		Expires  int    `json:"expires"`
		Metrics  []struct {
			MTU int `json:"mtu"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(js), &routes); err != nil {
		return nil, err
	}
	var out []Route
	for _, r := range routes {
		// iproute2 leaves out "boot", the protocol of `ip route add`.
		rt := Route{Dst: r.Dst, Dev: r.Dev, Protocol: r.Protocol, Metric: r.Metric, Expires: r.Expires}
		if rt.Protocol == "" {
			rt.Protocol = "boot"
		}
		if r.Gateway != "" {
			gw, err := netip.ParseAddr(r.Gateway)
			if err != nil {
				return nil, err
			}
			rt.Gateway = gw
		}
		for _, m := range r.Metrics {
			if m.MTU != 0 {
				rt.MTU = m.MTU
			}
		}
		out = append(out, rt)
	}
	return out, nil
}

// parseNeighbours reads `ip -j -6 neigh show dev eth0`; flags such as
// "router" are keys with a null value there.
func parseNeighbours(js string) ([]Neighbour, error) {
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(js), &entries); err != nil {
		return nil, err
	}
	var out []Neighbour
	for _, e := range entries {
		var n Neighbour
		var dst, ll string
		json.Unmarshal(e["dst"], &dst)
		json.Unmarshal(e["lladdr"], &ll)
		json.Unmarshal(e["state"], &n.State)
		_, n.Router = e["router"]
		var err error
		if n.Addr, err = netip.ParseAddr(dst); err != nil {
			return nil, err
		}
		if ll != "" {
			if n.LLAddr, err = net.ParseMAC(ll); err != nil {
				return nil, err
			}
		}
		out = append(out, n)
	}
	return out, nil
}

// parseSnmp6 reads /proc/net/snmp6: a counter's name and value a line.
func parseSnmp6(text string) map[string]int {
	m := map[string]int{}
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) == 2 {
			if n, err := strconv.Atoi(f[1]); err == nil {
				m[f[0]] = n
			}
		}
	}
	return m
}

// Addr is eth0's address p, if it has it.
func (s *State) Addr(p netip.Prefix) (Addr, bool) {
	for _, a := range s.Addrs {
		if a.Prefix == p {
			return a, true
		}
	}
	return Addr{}, false
}

// Default is the IPv6 (v6) or IPv4 default route, if there is one.
func (s *State) Default(v6 bool) (Route, bool) {
	for _, r := range s.Routes {
		if r.Dst == "default" && r.Gateway.Is6() == v6 {
			return r, true
		}
	}
	return Route{}, false
}

// Neighbour is the IPv6 neighbour entry of a, if there is one.
func (s *State) Neighbour(a netip.Addr) (Neighbour, bool) {
	for _, n := range s.Neigh6 {
		if n.Addr == a {
			return n, true
		}
	}
	return Neighbour{}, false
}
