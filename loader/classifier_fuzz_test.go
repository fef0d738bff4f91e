package loader

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf"
)

// refClassify is the classifier's parsing written plainly in Go: the
// differential fuzz target holds the BPF program to it.
func refClassify(f []byte) Kinds {
	if len(f) < 14 {
		return 0
	}
	switch binary.BigEndian.Uint16(f[12:]) {
	case etherIPv4:
		ip := f[14:]
		if len(ip) < 20 || ip[0]>>4 != 4 || ip[0]&0xf < 5 || ip[9] != protoUDP ||
			binary.BigEndian.Uint16(ip[6:])&0x1fff != 0 {
			return 0
		}
		off := 14 + int(ip[0]&0xf)*4
		if len(f) < off+4 || binary.BigEndian.Uint16(f[off+2:]) != 67 {
			return 0
		}
		return KindDHCP
	case etherIPv6:
		if len(f) < 54 || f[14]>>4 != 6 {
			return 0
		}
		nh, off := f[20], 54
		for range 3 {
			if nh != protoHopOpts && nh != protoRouting && nh != protoDstOpts {
				break
			}
			if len(f) < off+2 {
				return 0
			}
			nh, off = f[off], off+(int(f[off+1])+1)*8
		}
		switch nh {
		case protoUDP:
			if len(f) >= off+4 && binary.BigEndian.Uint16(f[off+2:]) == 547 {
				return KindDHCPv6
			}
		case protoICMPv6:
			if len(f) >= off+1 && f[off] == 133 {
				return KindRS
			}
			if len(f) >= off+1 && f[off] == 135 {
				return KindNS
			}
		}
	}
	return 0
}

func FuzzClassifier(f *testing.F) {
	cfg := Config{}
	objs := loadUnpinned(f, cfg)
	putIface(f, objs.Ifaces, loIfindex, vmMAC, AllKinds, 0)
	for _, seed := range [][]byte{
		dhcpDiscover(vmMAC),
		dhcpDiscover(otherMAC),
		ether(vmMAC, etherIPv4, ipv4(protoUDP, []byte{1, 1, 0, 67}, 0, udp(68, 80, nil))),
		ether(vmMAC, etherIPv4, ipv4(protoUDP, nil, 0x0010, udp(68, 67, nil))),
		ether(vmMAC, etherIPv6, ipv6(protoICMPv6, icmpv6(133))),
		ether(vmMAC, etherIPv6, ipv6(protoICMPv6, icmpv6(135))),
		ether(vmMAC, etherIPv6, ipv6(protoUDP, udp(546, 547, nil))),
		ether(vmMAC, etherIPv6, ipv6(protoHopOpts, ext(protoRouting, ext(protoDstOpts, ext(protoUDP, udp(546, 547, nil)))))),
		ether(vmMAC, etherIPv6, ipv6(protoFrag, fragHeader(protoUDP, udp(546, 547, nil)))),
		ether(vmMAC, etherARP, make([]byte, 28)),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		out := make([]byte, skbSize)
		verdict, err := objs.NfdhcpdClassify.Run(&ebpf.RunOptions{
			Data: frame, DataOut: make([]byte, len(frame)+256),
			Context: skbCtx{Ifindex: loIfindex}, ContextOut: out,
		})
		if err != nil {
			return // BPF_PROG_TEST_RUN refuses frames shorter than their headers
		}
		kind := refClassify(frame)
		wantVerdict, wantMark := uint32(tcActUnspec), uint32(0)
		if kind != 0 {
			if bytes.Equal(frame[6:12], vmMAC) {
				wantMark = MarkFor(cfg, kind)
			} else {
				wantVerdict = tcActShot
			}
		}
		if mark := binary.NativeEndian.Uint32(out[8:]); verdict != wantVerdict || mark != wantMark {
			t.Fatalf("frame %x: verdict %#x mark %#x, want %#x %#x (kind %v)", frame, verdict, mark, wantVerdict, wantMark, kind)
		}
	})
}
