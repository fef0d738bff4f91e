package loader

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/cilium/ebpf"
)

// Sizes of the answers map's templates: NFDHCPD_NA_LEN, NFDHCPD_NA_MAX and
// NFDHCPD_RA_MAX in bpf/nfdhcpd.h (TestHeaderConstants holds them equal).
const (
	NALen = 86   // an NA frame: Ethernet, IPv6, NA with its Target Link-Layer Address option
	naMax = 2    // NA targets per TAP
	raMax = 1520 // room for an RA frame
)

// Offsets the classifier relies on in a template.
const (
	naTargetOff = 14 + 40 + 8 // the NA's target
	minRA       = 14 + 40 + 16
)

// Answers are the replies the classifier sends by itself for one TAP, as
// the responder builds them for a request from the unspecified address
// (responder.Templates): sent to all nodes, an NA with R and O set. Per
// request the classifier sets the destination MAC and address and the
// NA's S flag, and updates the checksum. The zero value answers nothing:
// every RS and NS goes to the daemon.
type Answers struct {
	RA []byte   // the solicited RA; nil: none
	NA [][]byte // one NA per target, each NALen bytes; at most 2
}

func (a Answers) empty() bool { return len(a.RA) == 0 && len(a.NA) == 0 }

// value is a's answers map entry, of generation gen.
func (a Answers) value(gen uint64) (*classifierIfaceAnswers, error) {
	v := &classifierIfaceAnswers{Gen: gen}
	if len(a.RA) > 0 {
		if len(a.RA) < minRA || len(a.RA) > raMax {
			return nil, fmt.Errorf("RA template of %d bytes: want %d to %d", len(a.RA), minRA, raMax)
		}
		v.RaLen = uint32(copy(v.Ra[:], a.RA))
	}
	if len(a.NA) > naMax {
		return nil, fmt.Errorf("%d NA templates: at most %d", len(a.NA), naMax)
	}
	for i, na := range a.NA {
		if len(na) != NALen {
			return nil, fmt.Errorf("NA template of %d bytes: want %d", len(na), NALen)
		}
		copy(v.Na[i].Target[:], na[naTargetOff:naTargetOff+16])
		copy(v.Na[i].Frame[:], na)
	}
	v.NaCount = uint32(len(a.NA))
	return v, nil
}

// answers is v's templates, copied out.
func (v *classifierIfaceAnswers) answers() Answers {
	var a Answers
	if v.RaLen > 0 && v.RaLen <= raMax {
		a.RA = bytes.Clone(v.Ra[:v.RaLen])
	}
	for i := range min(int(v.NaCount), naMax) {
		a.NA = append(a.NA, bytes.Clone(v.Na[i].Frame[:NALen]))
	}
	return a
}

// firstGen starts a Loader's generations at a random point, so that one
// never meets an entry an earlier run left with the same generation.
func firstGen() uint64 { return rand.Uint64() }

// nextGen returns a generation no entry has had: the classifier takes an
// answers entry for the TAP's only while both carry the same. Under l.mu.
func (l *Loader) nextGen() uint64 {
	l.gen++
	if l.gen == 0 {
		l.gen++ // 0 is no entry's
	}
	return l.gen
}

// putAnswers makes ifc's answers entry hold a, of generation gen, or
// removes it when a is empty. The entry is rewritten in place under its
// lock, so that the classifier, which copies it under the same lock, sees
// the old whole or the new whole. Written before the ifaces entry carrying
// gen, removed after it.
func (l *Loader) putAnswers(ifc Iface, a Answers, gen uint64) error {
	key := classifierIfaceKey{Ifindex: uint32(ifc.Index)}
	if a.empty() {
		if err := l.answers.Delete(key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("attach %s: delete answers entry %d: %w", ifc.Name, ifc.Index, err)
		}
		return nil
	}
	v, err := a.value(gen)
	if err != nil {
		return fmt.Errorf("attach %s: %w", ifc.Name, err)
	}
	if err := l.answers.Update(key, v, ebpf.UpdateLock); err != nil {
		return fmt.Errorf("attach %s: write answers entry %d: %w", ifc.Name, ifc.Index, err)
	}
	return nil
}
