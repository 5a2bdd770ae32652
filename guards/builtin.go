package guards

import (
	"fmt"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
)

// Helpers shared by the built-in guard types.

// optionPos is the position of the value of key in the options mapping,
// or of the options themselves when key is not written.
func optionPos(opts config.Options, key string) config.Pos { return opts.PosAt(key) }

// codes are the C2 codes a guard may deny with.
var codes = []gatehouse.Code{
	gatehouse.CodeUnauthorized, gatehouse.CodeTokenExpired, gatehouse.CodeForbidden,
	gatehouse.CodeInvalidPayload, gatehouse.CodeRateLimited, gatehouse.CodePayloadTooLarge,
	gatehouse.CodeUnknownEvent, gatehouse.CodeUpstreamError, gatehouse.CodeUpstreamTimeout,
	gatehouse.CodeInternal,
}

// parseCode checks that s is a C2 code.
func parseCode(s string) (gatehouse.Code, bool) {
	for _, c := range codes {
		if string(c) == s {
			return c, true
		}
	}
	return "", false
}

// unknownCode words the error for a code that is not in C2: a likely typo
// gets a suggestion, anything else the whole list.
func unknownCode(code string) string {
	names := make([]string, len(codes))
	for i, c := range codes {
		names[i] = string(c)
	}
	if hint := config.Suggest(code, names); hint != "" {
		return fmt.Sprintf("unknown code %q%s", code, hint)
	}
	return fmt.Sprintf("unknown code %q (expected one of %s)", code, strings.Join(names, ", "))
}
