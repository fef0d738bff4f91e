package responder

// appendName appends name in RFC 1035 wire form (uncompressed, as RFC 3397,
// RFC 8106 and RFC 8415 allow) if it fits within max bytes of dst. A
// trailing dot is optional. It reports false, leaving dst unchanged, for
// names with empty or over-long labels, or that do not fit.
func appendName(dst []byte, name string, max int) ([]byte, bool) {
	if len(name) > 0 && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	if name == "" || len(name)+2 > 255 || len(dst)+len(name)+2 > max {
		return dst, false
	}
	start := len(dst)
	for len(name) > 0 {
		i := 0
		for i < len(name) && name[i] != '.' {
			i++
		}
		if i == 0 || i > 63 {
			return dst[:start], false
		}
		dst = append(dst, byte(i))
		dst = append(dst, name[:i]...)
		if i == len(name) {
			break
		}
		name = name[i+1:]
		if name == "" {
			return dst[:start], false // "a..": empty label
		}
	}
	return append(dst, 0), true
}
