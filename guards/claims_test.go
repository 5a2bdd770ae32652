package guards_test

import (
	"context"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
)

func TestClaimsGuard(t *testing.T) {
	tests := []struct {
		name     string
		options  string
		socket   gatehouse.Socket
		wantCode gatehouse.Code
		wantMsg  string
	}{
		{"equal string", "{role: admin}", alice(), "", ""},
		{"equal number", "{tier: 2}", alice(), "", ""},
		{"several rules all hold", "{role: admin, sub: alice}", alice(), "", ""},
		{"different value", "{role: ops}", alice(), gatehouse.CodeForbidden, "claim role must be ops"},
		{"number differs", "{tier: 3}", alice(), gatehouse.CodeForbidden, "claim tier must be 3"},
		{"string is not a number", "{tier: '2'}", alice(), gatehouse.CodeForbidden, "claim tier must be 2"},
		{"one_of matches", "{role: {one_of: [ops, admin]}}", alice(), "", ""},
		{"one_of misses", "{role: {one_of: [ops, billing]}}", alice(), gatehouse.CodeForbidden, "claim role must be one of ops, billing"},
		{"contains in an array", "{groups: {contains: ops}}", alice(), "", ""},
		{"array lacks the value", "{groups: {contains: sales}}", alice(), gatehouse.CodeForbidden, "claim groups must contain sales"},
		{"contains a scope word", "{scope: {contains: 'chat:write'}}", alice(), "", ""},
		{"scope word is whole", "{scope: {contains: 'chat'}}", alice(), gatehouse.CodeForbidden, "claim scope must contain chat"},
		{"contains on a number claim", "{tier: {contains: 2}}", alice(), gatehouse.CodeForbidden, "must contain"},
		{"missing claim", "{department: eng}", alice(), gatehouse.CodeForbidden, "claim department is missing"},
		{"first failing rule is named", "{role: admin, sub: bob, tier: 9}", alice(), gatehouse.CodeForbidden, "claim sub must be bob"},
		{"no token", "{role: admin}", anonymous(), gatehouse.CodeUnauthorized, "requires a token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gatehousetest.Guard(t, "claims", tt.options)
			checkResult(t, g.Check(context.Background(), gatehousetest.Input(tt.socket, "announce", `{}`)), tt.wantCode, tt.wantMsg)
		})
	}
}

func TestClaimsGuardRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		options string
		pos     string
		msg     string
	}{
		{"not a mapping", "admin", "1:10", "expected a mapping of claim names"},
		{"empty mapping", "{}", "1:10", "expected a mapping of claim names"},
		{"bare list", "{role: [a, b]}", "1:17", "a list is ambiguous"},
		{"unknown requirement", "{role: {any_of: [a]}}", "1:26", `unknown requirement "any_of"`},
		{"one_of without a list", "{role: {one_of: admin}}", "1:26", "one_of needs a non-empty list"},
		{"two requirements", "{role: {one_of: [a], contains: b}}", "1:17", "exactly one of one_of or contains"},
		{"contains a list", "{groups: {contains: [a]}}", "1:30", "expected a single value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(t, "claims", tt.options)
			wantConfigError(t, err, tt.pos, tt.msg)
		})
	}
}

func BenchmarkGuard_claims(b *testing.B) {
	g := gatehousetest.Guard(b, "claims", "{role: admin, groups: {contains: ops}}")
	in := gatehousetest.Input(alice(), "announce", `{"message":"hi"}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Check(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
