package guards_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
	"github.com/gatehouse-dev/gatehouse/guards"
)

func TestMaxSizeGuard(t *testing.T) {
	big := `{"message":"` + strings.Repeat("a", 5000) + `"}`
	tests := []struct {
		name     string
		options  string
		in       *guards.Input
		wantCode gatehouse.Code
		wantMsg  string
	}{
		{"small payload", "4KB", gatehousetest.Input(alice(), "e", `{"message":"hi"}`), "", ""},
		{"exactly the limit", "{limit: 16}", gatehousetest.Input(alice(), "e", `{"message":"hi"}`), "", ""},
		{"one byte over", "{limit: 15}", gatehousetest.Input(alice(), "e", `{"message":"hi"}`), gatehouse.CodePayloadTooLarge,
			"payload is 16 bytes, more than the limit of 15 bytes"},
		{"large payload", "4KB", gatehousetest.Input(alice(), "e", big), gatehouse.CodePayloadTooLarge, "payload is 5014 bytes, more than the limit of 4096 bytes"},
		{"every argument counts", "{limit: 10}", &guards.Input{
			Socket: alice(), Event: "e", Payload: gatehouse.NewPayload(json.RawMessage(`1`)),
			Args: gatehouse.Args{Raw: []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`"0123456789"`)}},
		}, gatehouse.CodePayloadTooLarge, "payload is 13 bytes"},
		{"binary attachments count", "1KB", &guards.Input{
			Socket: alice(), Event: "upload", Payload: gatehouse.NewPayload(json.RawMessage(`{"_placeholder":true,"num":0}`)),
			Args: gatehouse.Args{Raw: []json.RawMessage{json.RawMessage(`{"_placeholder":true,"num":0}`)}, Attachments: [][]byte{make([]byte, 2000)}},
		}, gatehouse.CodePayloadTooLarge, "payload is 2029 bytes"},
		{"connect payload", "{limit: 8}", &guards.Input{
			Socket: alice(), Payload: gatehouse.NewPayload(json.RawMessage(`{"token":"abc"}`)),
		}, gatehouse.CodePayloadTooLarge, "payload is 15 bytes"},
		{"no payload", "1B", gatehousetest.Input(alice(), "e", ""), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gatehousetest.Guard(t, "max_size", tt.options)
			checkResult(t, g.Check(context.Background(), tt.in), tt.wantCode, tt.wantMsg)
		})
	}
}

func TestMaxSizeGuardRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		options string
		pos     string
		msg     string
	}{
		{"zero", "0", "1:10", "limit must be a size above 0"},
		{"zero in a mapping", "{limit: 0KB}", "1:18", "limit must be a size above 0"},
		{"missing limit", "{}", "1:10", "limit must be a size above 0"},
		{"not a size", "lots", "1:10", ""},
		{"unknown option", "{limt: 4KB}", "1:11", "limt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(t, "max_size", tt.options)
			wantConfigError(t, err, tt.pos, tt.msg)
		})
	}
}

func BenchmarkGuard_max_size(b *testing.B) {
	g := gatehousetest.Guard(b, "max_size", "4KB")
	in := gatehousetest.Input(alice(), "sendMessage", `{"message":"hello there"}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Check(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
