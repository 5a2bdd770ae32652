package guards

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
)

func init() {
	// The options are a mapping of claim names to requirements, read by the
	// factory itself: no options struct.
	defaultRegistry.RegisterSpec("claims", Spec{
		Doc: "Admits sockets whose token claims meet every requirement: a value, {one_of: [...]} or {contains: value}; forbidden otherwise.",
		Refusals: []Refusal{
			{Code: "unauthorized", When: "the socket has no token"},
			{Code: "forbidden", When: "a claim does not hold"},
		},
	}, newClaimsGuard)
}

// claimTest is how a claim is compared with the required values.
type claimTest int

const (
	claimEquals   claimTest = iota + 1 // role: admin
	claimOneOf                         // role: {one_of: [admin, ops]}
	claimContains                      // scope: {contains: chat:write}
)

// claimRule is one requirement of a claims guard.
type claimRule struct {
	claim  string
	test   claimTest
	values []any // JSON-comparable: string, float64, bool or nil
}

// claimsGuard admits sockets whose token claims meet every rule, checked
// in the order written.
type claimsGuard struct{ rules []claimRule }

// newClaimsGuard reads a mapping of claim names to requirements:
//
//	claims: {role: admin, tier: {one_of: [gold, silver]}, scope: {contains: chat:write}}
func newClaimsGuard(opts config.Options) (Guard, error) {
	claims := opts.Keys()
	if len(claims) == 0 {
		return nil, opts.Errorf("claims: expected a mapping of claim names to required values, such as {role: admin}")
	}
	var errs config.ErrorList
	g := &claimsGuard{}
	for _, claim := range claims {
		rule, err := parseClaimRule(opts.At(claim), claim)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		g.rules = append(g.rules, rule)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return g, nil
}

// parseClaimRule reads the requirement written for one claim: a value,
// {one_of: [...]} or {contains: x}.
func parseClaimRule(opts config.Options, claim string) (claimRule, *config.Error) {
	var written any
	if err := opts.Decode(&written); err != nil {
		return claimRule{}, config.Errorf(opts.Pos(), "claims: %s: %v", claim, err)
	}
	switch w := written.(type) {
	case []any:
		return claimRule{}, config.Errorf(opts.Pos(), "claims: %s: a list is ambiguous; write {one_of: [...]} for any of these values or {contains: x} for an array claim", claim)
	case map[string]any:
		keys := opts.Keys()
		if len(keys) != 1 {
			return claimRule{}, config.Errorf(opts.Pos(), "claims: %s: expected exactly one of one_of or contains", claim)
		}
		switch keys[0] {
		case "one_of":
			values, ok := w["one_of"].([]any)
			if !ok || len(values) == 0 {
				return claimRule{}, config.Errorf(opts.PosAt("one_of"), "claims: %s: one_of needs a non-empty list of values", claim)
			}
			rule := claimRule{claim: claim, test: claimOneOf}
			for i, item := range values {
				v, err := claimValue(item)
				if err != nil {
					return claimRule{}, config.Errorf(opts.PosAt("one_of", strconv.Itoa(i)), "claims: %s: %v", claim, err)
				}
				rule.values = append(rule.values, v)
			}
			return rule, nil
		case "contains":
			v, err := claimValue(w["contains"])
			if err != nil {
				return claimRule{}, config.Errorf(opts.PosAt("contains"), "claims: %s: %v", claim, err)
			}
			return claimRule{claim: claim, test: claimContains, values: []any{v}}, nil
		}
		return claimRule{}, config.Errorf(opts.PosAt(keys[0]), "claims: %s: unknown requirement %q (expected one_of or contains)", claim, keys[0])
	}
	v, err := claimValue(written)
	if err != nil {
		return claimRule{}, config.Errorf(opts.Pos(), "claims: %s: %v", claim, err)
	}
	return claimRule{claim: claim, test: claimEquals, values: []any{v}}, nil
}

// claimValue turns a decoded scalar into the JSON value a claim would hold.
func claimValue(v any) (any, error) {
	switch x := v.(type) {
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case float64, string, bool, nil:
		return x, nil
	}
	return nil, fmt.Errorf("expected a single value")
}

// MayBlock reports that the guard never waits (handlers.Blocking): it only compares.
func (g *claimsGuard) MayBlock() bool { return false }

// Check allows the socket when every rule holds.
func (g *claimsGuard) Check(_ context.Context, in *Input) error {
	var claims gatehouse.Claims
	if in.Socket != nil {
		claims = in.Socket.Claims()
	}
	if len(claims) == 0 {
		return gatehouse.Errorf(gatehouse.CodeUnauthorized, "this requires a token")
	}
	for i := range g.rules {
		if err := g.rules[i].check(claims); err != nil {
			return err
		}
	}
	return nil
}

func (r *claimRule) check(claims gatehouse.Claims) error {
	got, ok := claims[r.claim]
	if !ok {
		return gatehouse.Errorf(gatehouse.CodeForbidden, "claim %s is missing", r.claim)
	}
	switch r.test {
	case claimEquals:
		if jsonEqual(got, r.values[0]) {
			return nil
		}
		return gatehouse.Errorf(gatehouse.CodeForbidden, "claim %s must be %s", r.claim, showValue(r.values[0]))
	case claimOneOf:
		for _, want := range r.values {
			if jsonEqual(got, want) {
				return nil
			}
		}
		shown := make([]string, len(r.values))
		for i, v := range r.values {
			shown[i] = showValue(v)
		}
		return gatehouse.Errorf(gatehouse.CodeForbidden, "claim %s must be one of %s", r.claim, strings.Join(shown, ", "))
	case claimContains:
		if containsValue(got, r.values[0]) {
			return nil
		}
		return gatehouse.Errorf(gatehouse.CodeForbidden, "claim %s must contain %s", r.claim, showValue(r.values[0]))
	}
	return gatehouse.Errorf(gatehouse.CodeInternal, "claims guard: unknown test")
}

// containsValue reports whether an array claim holds want, or a string
// claim holds it as a space-separated word, as OAuth scope does.
func containsValue(claim, want any) bool {
	switch c := claim.(type) {
	case []any:
		for _, item := range c {
			if jsonEqual(item, want) {
				return true
			}
		}
	case []string:
		for _, item := range c {
			if jsonEqual(item, want) {
				return true
			}
		}
	case string:
		word, ok := want.(string)
		if !ok {
			return false
		}
		for _, field := range strings.Fields(c) {
			if field == word {
				return true
			}
		}
	}
	return false
}

// jsonEqual compares a claim with a required value, numbers by value
// whatever their Go type.
func jsonEqual(got, want any) bool {
	if wf, ok := want.(float64); ok {
		gf, ok := number(got)
		return ok && gf == wf
	}
	return got == want
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func showValue(v any) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprint(v)
}
