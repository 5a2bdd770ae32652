package guards

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
)

func init() {
	// The options are a mapping of claim names to requirements, read by the
	// factory itself: no options struct.
	defaultRegistry.RegisterSpec("claims", Spec{
		Doc: "Admits sockets whose token claims meet every requirement: a value, {one_of: [...]} or {contains: value}; forbidden otherwise.",
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
	n := opts.Node()
	if n == nil || n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		return nil, opts.Errorf("claims: expected a mapping of claim names to required values, such as {role: admin}")
	}
	var errs config.ErrorList
	g := &claimsGuard{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, value := n.Content[i], n.Content[i+1]
		rule, err := parseClaimRule(opts, name.Value, value)
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

func parseClaimRule(opts config.Options, claim string, n *yaml.Node) (claimRule, *config.Error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := scalarJSON(n)
		if err != nil {
			return claimRule{}, config.Errorf(opts.PosOf(n), "claims: %s: %v", claim, err)
		}
		return claimRule{claim: claim, test: claimEquals, values: []any{v}}, nil
	case yaml.SequenceNode:
		return claimRule{}, config.Errorf(opts.PosOf(n),
			"claims: %s: a list is ambiguous; write {one_of: [...]} for any of these values or {contains: x} for an array claim", claim)
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			return claimRule{}, config.Errorf(opts.PosOf(n), "claims: %s: expected exactly one of one_of or contains", claim)
		}
		key, arg := n.Content[0], n.Content[1]
		switch key.Value {
		case "one_of":
			if arg.Kind != yaml.SequenceNode || len(arg.Content) == 0 {
				return claimRule{}, config.Errorf(opts.PosOf(arg), "claims: %s: one_of needs a non-empty list of values", claim)
			}
			rule := claimRule{claim: claim, test: claimOneOf}
			for _, item := range arg.Content {
				v, err := scalarJSON(item)
				if err != nil {
					return claimRule{}, config.Errorf(opts.PosOf(item), "claims: %s: %v", claim, err)
				}
				rule.values = append(rule.values, v)
			}
			return rule, nil
		case "contains":
			v, err := scalarJSON(arg)
			if err != nil {
				return claimRule{}, config.Errorf(opts.PosOf(arg), "claims: %s: %v", claim, err)
			}
			return claimRule{claim: claim, test: claimContains, values: []any{v}}, nil
		}
		return claimRule{}, config.Errorf(opts.PosOf(key), "claims: %s: unknown requirement %q (expected one_of or contains)", claim, key.Value)
	}
	return claimRule{}, config.Errorf(opts.PosOf(n), "claims: %s: expected a value, {one_of: [...]} or {contains: x}", claim)
}

// scalarJSON decodes a scalar as the JSON value a claim would hold.
func scalarJSON(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("expected a single value")
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
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
	return n.Value, nil
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
