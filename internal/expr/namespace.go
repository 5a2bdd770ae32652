package expr

import "strings"

// CEL reserves the word "namespace", so an expression cannot name a
// variable that way, yet the config language promises one. Before parsing,
// renameNamespace replaces each bare identifier "namespace" with
// namespaceVar, which has the same length so that error columns stay true.
// Field selections (socket.namespace), string literals, comments and
// escaped identifiers keep the word as written.
const namespaceVar = "_nsp_var_"

func renameNamespace(src string) string {
	const word = "namespace"
	if !strings.Contains(src, word) {
		return src
	}
	out := []byte(src)
	afterDot := false // the previous token was "."
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		case c == '`':
			i = skipPast(src, i+1, "`")
			afterDot = false
			continue
		case c == '\'' || c == '"':
			i = skipString(src, i, false)
			afterDot = false
			continue
		case isIdentStart(c):
			start := i
			for i < len(src) && isIdentPart(src[i]) {
				i++
			}
			ident := src[start:i]
			if i < len(src) && (src[i] == '\'' || src[i] == '"') && isStringPrefix(ident) {
				i = skipString(src, i, strings.ContainsAny(ident, "rR"))
				afterDot = false
				continue
			}
			if ident == word && !afterDot {
				copy(out[start:i], namespaceVar)
			}
			afterDot = false
			continue
		case c >= '0' && c <= '9':
			for i < len(src) && (isIdentPart(src[i]) || src[i] == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9') {
				i++
			}
			afterDot = false
			continue
		}
		afterDot = c == '.'
		i++
	}
	return string(out)
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func isStringPrefix(ident string) bool {
	switch ident {
	case "r", "R", "b", "B", "rb", "rB", "Rb", "RB", "br", "bR", "Br", "BR":
		return true
	}
	return false
}

// skipString returns the index after the string literal that opens at i,
// or len(src) when it never closes (the parser reports that).
func skipString(src string, i int, raw bool) int {
	quote := src[i : i+1]
	if strings.HasPrefix(src[i:], quote+quote+quote) {
		quote = quote + quote + quote
	}
	i += len(quote)
	for i < len(src) {
		if !raw && src[i] == '\\' {
			i += 2
			continue
		}
		if strings.HasPrefix(src[i:], quote) {
			return i + len(quote)
		}
		if len(quote) == 1 && src[i] == '\n' {
			return i
		}
		i++
	}
	return len(src)
}

func skipPast(src string, i int, end string) int {
	if j := strings.Index(src[i:], end); j >= 0 {
		return i + j + len(end)
	}
	return len(src)
}
