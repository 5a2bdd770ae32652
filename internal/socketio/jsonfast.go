package socketio

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// maxFastJSONDepth bounds the nesting appendJSON follows; deeper values,
// and cyclic ones, are left to encoding/json, which reports cycles.
const maxFastJSONDepth = 32

// appendJSON appends v exactly as encoding/json.Marshal would encode it,
// for the plain values that decoded JSON, claims and replies are made of:
// nil, bool, string, float64, the integer types, map[string]any,
// map[string]string, []any and []string. It works without reflection and
// without the intermediate buffer of json.Marshal, which is most of the
// cost of an acknowledgement. ok is false for any other value, a NaN or an
// infinity, or nesting deeper than maxFastJSONDepth; what was appended is
// then to be discarded and encoding/json used instead.
func appendJSON(buf []byte, v any, depth int) (_ []byte, ok bool) {
	if depth > maxFastJSONDepth {
		return buf, false
	}
	switch v := v.(type) {
	case nil:
		return append(buf, "null"...), true
	case bool:
		return strconv.AppendBool(buf, v), true
	case string:
		return appendJSONString(buf, v), true
	case float64:
		return appendJSONFloat(buf, v)
	case int:
		return strconv.AppendInt(buf, int64(v), 10), true
	case int64:
		return strconv.AppendInt(buf, v, 10), true
	case int32:
		return strconv.AppendInt(buf, int64(v), 10), true
	case uint64:
		return strconv.AppendUint(buf, v, 10), true
	case uint32:
		return strconv.AppendUint(buf, uint64(v), 10), true
	case map[string]any:
		if v == nil {
			return append(buf, "null"...), true
		}
		var keyArray [16]string
		keys := keyArray[:0]
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, k)
			buf = append(buf, ':')
			if buf, ok = appendJSON(buf, v[k], depth+1); !ok {
				return buf, false
			}
		}
		return append(buf, '}'), true
	case map[string]string:
		if v == nil {
			return append(buf, "null"...), true
		}
		var keyArray [16]string
		keys := keyArray[:0]
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, k)
			buf = append(buf, ':')
			buf = appendJSONString(buf, v[k])
		}
		return append(buf, '}'), true
	case []any:
		if v == nil {
			return append(buf, "null"...), true
		}
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, ok = appendJSON(buf, e, depth+1); !ok {
				return buf, false
			}
		}
		return append(buf, ']'), true
	case []string:
		if v == nil {
			return append(buf, "null"...), true
		}
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, e)
		}
		return append(buf, ']'), true
	}
	return buf, false
}

// appendJSONFloat formats f as encoding/json does (ES6 number to string:
// 'e' notation below 1e-6 and from 1e21 on, exponents unpadded); NaN and
// infinities are not JSON.
func appendJSONFloat(buf []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return buf, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	buf = strconv.AppendFloat(buf, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as encoding/json writes it.
		if n := len(buf); n >= 4 && buf[n-4] == 'e' && buf[n-3] == '-' && buf[n-2] == '0' {
			buf[n-2] = buf[n-1]
			buf = buf[:n-1]
		}
	}
	return buf, true
}

const hexDigits = "0123456789abcdef"

// jsonSafe reports the ASCII bytes encoding/json writes as they are (with
// its default HTML escaping: <, > and & are escaped too).
func jsonSafe(b byte) bool {
	return b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
}

// appendJSONString quotes s as encoding/json does with HTML escaping:
// invalid UTF-8 becomes U+FFFD, U+2028 and U+2029 are escaped.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if jsonSafe(b) {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '\\', '"':
				buf = append(buf, '\\', b)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
