package loader

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Our cls_bpf filter is recognised by name, priority and handle together;
// a filter with our priority and handle but another name is someone
// else's, and we refuse to touch it.
const (
	clsName     = "nfdhcpd"
	clsPriority = 0x4e44 // "ND"
	clsHandle   = 0x4e44
)

// attachClsBPF adds (or replaces in place, atomically) our direct-action
// filter on the ingress hook of a clsact or ingress qdisc.
//
// Every request goes through l.nl, one socket per loader, and names the
// link by index only: at 10,000 TAPs a socket per request, a link lookup
// per request and a dump of every qdisc on the host per attach were most
// of the time a start took.
func (l *Loader) attachClsBPF(ifc Iface) error {
	added, err := l.ensureIngressQdisc(ifc)
	if err != nil {
		return fmt.Errorf("attach %s: %w", ifc.Name, err)
	}
	if !added { // a qdisc we just added holds no filter yet
		ours, others, err := l.clsFilters(ifc.Index)
		if err != nil {
			return fmt.Errorf("attach %s: list ingress filters: %w", ifc.Name, err)
		}
		for _, f := range others {
			if a := f.Attrs(); a.Priority == clsPriority && a.Handle == clsHandle {
				return fmt.Errorf("attach %s: ingress filter pref %d handle %#x belongs to someone else (%s)",
					ifc.Name, clsPriority, clsHandle, f.Type())
			}
		}
		for _, bf := range ours {
			if bf.Id == int(l.progID) {
				return nil
			}
		}
	}
	filter := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: ifc.Index,
			Parent:    netlink.HANDLE_MIN_INGRESS,
			Handle:    clsHandle,
			Priority:  clsPriority,
			Protocol:  unix.ETH_P_ALL,
		},
		Fd:           l.prog.FD(),
		Name:         clsName,
		DirectAction: true,
	}
	if err := l.nl.FilterReplace(filter); err != nil {
		return fmt.Errorf("attach %s: cls_bpf filter: %w", ifc.Name, err)
	}
	return nil
}

// ensureIngressQdisc adds an ingress qdisc unless the link has a qdisc
// that takes ingress filters, and reports whether it did: the kernel
// answers EEXIST when a clsact or an ingress qdisc holds the slot, and we
// use either as found.
//
// ingress rather than clsact: the kernel's indirect-offload bookkeeping
// scans a host-wide list of filter blocks for every block created, and a
// clsact has two (ingress and egress) where ingress has one. On a 2-CPU
// host 10,000 clsact qdiscs take 2.8 s to add, 10,000 ingress 1.3 s.
func (l *Loader) ensureIngressQdisc(ifc Iface) (bool, error) {
	err := l.nl.QdiscAdd(&netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{
		LinkIndex: ifc.Index,
		Handle:    netlink.MakeHandle(0xffff, 0),
		Parent:    netlink.HANDLE_INGRESS,
	}})
	if errors.Is(err, unix.EEXIST) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("add ingress qdisc: %w", err)
	}
	l.log.Debug("added ingress qdisc", "iface", ifc.Name)
	return true, nil
}

// deleteIngressQdisc removes ifindex's ingress qdisc, and only an
// ingress one: the request names the kind, and the kernel refuses a
// mismatch, so a clsact stays whoever added it. The request goes out on a
// socket of its own, in the calling thread's network namespace
// (vishvananda/netlink sends no kind with a delete).
func deleteIngressQdisc(ifindex int) error {
	req := nl.NewNetlinkRequest(unix.RTM_DELQDISC, unix.NLM_F_ACK)
	req.AddData(&nl.TcMsg{Family: nl.FAMILY_ALL, Ifindex: int32(ifindex),
		Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_INGRESS})
	req.AddData(nl.NewRtAttr(nl.TCA_KIND, nl.ZeroTerminated("ingress")))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	switch {
	case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV):
		return nil // gone, or a clsact
	}
	return fmt.Errorf("delete empty ingress qdisc: %w", err)
}

// linkByIndex names a link by index alone, which is all the tc requests
// read from it.
func linkByIndex(ifindex int) netlink.Link {
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex}}
}

// clsFilters lists ifindex's ingress filters: ours (by name, priority and
// handle) and everyone else's. A link that is gone or has no ingress hook
// has none, and says why.
func (l *Loader) clsFilters(ifindex int) (ours []*netlink.BpfFilter, others []netlink.Filter, err error) {
	filters, err := l.nl.FilterList(linkByIndex(ifindex), netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range filters {
		if bf, ok := f.(*netlink.BpfFilter); ok && bf.Name == clsName &&
			bf.Priority == clsPriority && bf.Handle == clsHandle {
			ours = append(ours, bf)
		} else {
			others = append(others, f)
		}
	}
	return ours, others, nil
}

// hasClsFilter reports whether ifindex has our cls_bpf filter.
func (l *Loader) hasClsFilter(ifindex int) bool {
	ours, _, _ := l.clsFilters(ifindex)
	return len(ours) > 0
}

// detachClsBPF removes our filters from ifindex and then the ingress qdisc
// if nothing else is left under it: we add one where a TAP has none, and
// left empty it would only stand in the way of a clsact someone adds
// later.
func (l *Loader) detachClsBPF(ifindex int, name string) error {
	ours, others, _ := l.clsFilters(ifindex)
	for _, bf := range ours {
		if err := l.nl.FilterDel(bf); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("detach %s: delete cls_bpf filter: %w", name, err)
		}
	}
	if len(ours) == 0 || len(others) > 0 {
		return nil
	}
	if err := deleteIngressQdisc(ifindex); err != nil {
		return fmt.Errorf("detach %s: %w", name, err)
	}
	return nil
}
