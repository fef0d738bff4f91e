package loader

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/cilium/ebpf"
)

// Iface is a bound TAP as the classifier needs it.
type Iface struct {
	Index    int
	Name     string
	MAC      net.HardwareAddr // the binding's MAC: the only source accepted
	MACSpoof bool             // accept any source MAC
	Kinds    Kinds            // packets to mark on this TAP
	Answers  Answers          // replies the classifier sends itself (Config.Answer)
}

// Methods reported by Method.
const (
	MethodTCX    = "tcx"
	MethodClsBPF = "cls_bpf"
)

// Attach writes ifc's map entry and attaches the classifier to its ingress
// unless our current program is already there. It is idempotent.
func (l *Loader) Attach(ifc Iface) error {
	start := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.prog == nil {
		return fmt.Errorf("attach %s: loader closed", ifc.Name)
	}
	method, err := l.attachLocked(ifc)
	l.record(ifc.Index, method, err)
	if err != nil {
		return err
	}
	l.log.Debug("classifier attached", "ifindex", ifc.Index, "iface", ifc.Name, "method", method,
		"kinds", ifc.Kinds.String(), "macspoof", ifc.MACSpoof, "took", time.Since(start))
	return nil
}

func (l *Loader) attachLocked(ifc Iface) (string, error) {
	if err := l.putEntry(ifc); err != nil {
		return "", err
	}
	// Attached here as the mode says: nothing left for Upgrade to do.
	l.upgrades.drop(ifc.Index)
	mode := l.cfg.Attach
	if mode != AttachTC {
		err := l.attachTCX(ifc)
		if err == nil {
			// Moving from cls_bpf (an older kernel's run, attach = tc
			// before, or a bulk start): one attachment only, or packets
			// count twice.
			return MethodTCX, l.detachClsBPF(ifc.Index, ifc.Name)
		}
		if mode == AttachTCX || !errors.Is(err, ebpf.ErrNotSupported) {
			return "", err
		}
		l.noTCX = true
		l.log.Debug("tcx unsupported, using cls_bpf", "iface", ifc.Name, "error", err)
	}
	return l.attachClsOnly(ifc)
}

// putEntry writes ifc's entries in the ifaces and answers maps: what the
// classifier checks packets from ifc.Index against, and answers them with.
// Both carry a new generation; templates are written before the ifaces
// entry and removed after it, so that the classifier never pairs an
// ifaces entry with templates written for another.
func (l *Loader) putEntry(ifc Iface) error {
	if ifc.Index <= 0 {
		return fmt.Errorf("attach %s: bad ifindex %d", ifc.Name, ifc.Index)
	}
	if len(ifc.MAC) != 6 {
		return fmt.Errorf("attach %s: MAC %q is not 6 bytes", ifc.Name, ifc.MAC)
	}
	gen := l.nextGen()
	v := classifierIfaceValue{Kinds: uint8(ifc.Kinds), Gen: gen}
	copy(v.Mac[:], ifc.MAC)
	if ifc.MACSpoof {
		v.Flags |= flagMACSpoof
	}
	a := l.answersFor(ifc)
	if !a.empty() {
		if err := l.putAnswers(ifc, a, gen); err != nil {
			return err
		}
	}
	if err := l.ifaces.Put(classifierIfaceKey{Ifindex: uint32(ifc.Index)}, &v); err != nil {
		return fmt.Errorf("attach %s: write ifaces entry %d: %w", ifc.Name, ifc.Index, err)
	}
	if a.empty() {
		return l.putAnswers(ifc, a, gen)
	}
	return nil
}

// answersFor is what of ifc.Answers the classifier may send: the kinds
// Config.Answer names and ifc marks.
func (l *Loader) answersFor(ifc Iface) Answers {
	a := ifc.Answers
	if l.cfg.Answer&ifc.Kinds&KindRS == 0 {
		a.RA = nil
	}
	if l.cfg.Answer&ifc.Kinds&KindNS == 0 {
		a.NA = nil
	}
	return a
}

// attachClsOnly leaves ifc with our cls_bpf filter and no TCX link.
func (l *Loader) attachClsOnly(ifc Iface) (string, error) {
	if err := l.attachClsBPF(ifc); err != nil {
		return "", err
	}
	return MethodClsBPF, l.detachTCX(ifc.Index, ifc.Name)
}

// Detach removes ifindex's map entry and our attachment to it, and only
// ours. The link may already be gone.
func (l *Loader) Detach(ifindex int, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.prog == nil {
		return fmt.Errorf("detach %s: loader closed", name)
	}
	err := l.detachLocked(ifindex, name)
	l.record(ifindex, "", err)
	return err
}

func (l *Loader) detachLocked(ifindex int, name string) error {
	var errs []error
	err := l.ifaces.Delete(classifierIfaceKey{Ifindex: uint32(ifindex)})
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		errs = append(errs, fmt.Errorf("detach %s: delete ifaces entry %d: %w", name, ifindex, err))
	}
	// After the ifaces entry: with that gone the classifier creates no
	// new bucket for this ifindex, and looks up no answers.
	err = l.limits.Delete(classifierIfaceKey{Ifindex: uint32(ifindex)})
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		errs = append(errs, fmt.Errorf("detach %s: delete limits entry %d: %w", name, ifindex, err))
	}
	err = l.answers.Delete(classifierIfaceKey{Ifindex: uint32(ifindex)})
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		errs = append(errs, fmt.Errorf("detach %s: delete answers entry %d: %w", name, ifindex, err))
	}
	l.upgrades.drop(ifindex)
	errs = append(errs, l.detachTCX(ifindex, name), l.detachClsBPF(ifindex, name))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	l.log.Debug("classifier detached", "ifindex", ifindex, "iface", name)
	return nil
}
