package engineio

import (
	"bytes"
	"errors"
	"testing"
)

func TestDecodePacket(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		typ     packetType
		data    string
		wantErr error
	}{
		{name: "message carries its text", in: "4hello", typ: packetMessage, data: "hello"},
		{name: "pong without data", in: "3", typ: packetPong},
		{name: "probe ping keeps its data", in: "2probe", typ: packetPing, data: "probe"},
		{name: "noop", in: "6", typ: packetNoop},
		{name: "empty input is refused", in: "", wantErr: errEmptyPacket},
		{name: "type beyond noop is refused", in: "7x", wantErr: errUnknownPacket},
		{name: "letter type is refused", in: "x", wantErr: errUnknownPacket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := decodePacket([]byte(tt.in))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("decodePacket(%q) error = %v, want %v", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodePacket(%q): %v", tt.in, err)
			}
			if p.typ != tt.typ || string(p.data) != tt.data || p.binary {
				t.Fatalf("decodePacket(%q) = {%c %q %v}, want {%c %q false}", tt.in, p.typ, p.data, p.binary, tt.typ, tt.data)
			}
		})
	}
}

func TestDecodePayload(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []packet
		wantErr bool
	}{
		{name: "single message", in: "4hi", want: []packet{{typ: packetMessage, data: []byte("hi")}}},
		{
			name: "records split on the separator",
			in:   "4a\x1e3\x1e4b",
			want: []packet{{typ: packetMessage, data: []byte("a")}, {typ: packetPong}, {typ: packetMessage, data: []byte("b")}},
		},
		{name: "binary record is base64", in: "bAQID", want: []packet{{typ: packetMessage, data: []byte{1, 2, 3}, binary: true}}},
		{name: "empty binary record", in: "b", want: []packet{{typ: packetMessage, data: []byte{}, binary: true}}},
		{name: "empty message keeps empty data", in: "4", want: []packet{{typ: packetMessage, data: []byte{}}}},
		{name: "empty payload is an error", in: "", wantErr: true},
		{name: "trailing separator leaves an empty record", in: "4a\x1e", wantErr: true},
		{name: "bad base64 is an error", in: "b!!", wantErr: true},
		{name: "unknown type is an error", in: "4a\x1e9", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []packet
			err := decodePayload([]byte(tt.in), func(p packet) error {
				got = append(got, packet{typ: p.typ, data: bytes.Clone(p.data), binary: p.binary})
				return nil
			})
			if tt.wantErr {
				if err == nil {
					t.Fatalf("decodePayload(%q) succeeded with %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodePayload(%q): %v", tt.in, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("decodePayload(%q) = %d packets, want %d", tt.in, len(got), len(tt.want))
			}
			for i := range got {
				if got[i].typ != tt.want[i].typ || !bytes.Equal(got[i].data, tt.want[i].data) || got[i].binary != tt.want[i].binary {
					t.Fatalf("packet %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestDecodePayloadStopsWhenCallbackFails(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := decodePayload([]byte("4a\x1e1\x1e4b"), func(p packet) error {
		calls++
		if p.typ == packetClose {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 {
		t.Fatalf("err = %v after %d calls, want %v after 2", err, calls, stop)
	}
}

func TestAppendPayload(t *testing.T) {
	tests := []struct {
		name    string
		packets []packet
		want    string
	}{
		{name: "one text message", packets: []packet{{typ: packetMessage, data: []byte("hi")}}, want: "4hi"},
		{
			name:    "joined by the record separator",
			packets: []packet{{typ: packetMessage, data: []byte("a")}, {typ: packetPing}, {typ: packetMessage, data: []byte("b")}},
			want:    "4a\x1e2\x1e4b",
		},
		{name: "binary as b and base64", packets: []packet{{typ: packetMessage, data: []byte{1, 2, 3}, binary: true}}, want: "bAQID"},
		{name: "close packet", packets: []packet{{typ: packetClose}}, want: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendPayload(nil, tt.packets)); got != tt.want {
				t.Fatalf("appendPayload = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	in := []packet{
		{typ: packetMessage, data: []byte(`["chat",{"message":"hé"}]`)},
		{typ: packetMessage, data: []byte{0, 0x1e, 0xff}, binary: true},
		{typ: packetPong},
	}
	var out []packet
	if err := decodePayload(appendPayload(nil, in), func(p packet) error {
		out = append(out, p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("got %d packets, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].typ != in[i].typ || !bytes.Equal(out[i].data, in[i].data) || out[i].binary != in[i].binary {
			t.Fatalf("packet %d = %+v, want %+v", i, out[i], in[i])
		}
	}
}

func FuzzDecodePayload(f *testing.F) {
	for _, seed := range []string{"4hello", "4a\x1e4b", "bAQID", "3", "", "\x1e", "b!", "2probe\x1e5"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var decoded []packet
		err := decodePayload(in, func(p packet) error {
			decoded = append(decoded, p)
			return nil
		})
		if err != nil {
			return
		}
		// What decodes re-encodes to an equivalent payload.
		again := 0
		if err := decodePayload(appendPayload(nil, decoded), func(p packet) error {
			if p.typ != decoded[again].typ || !bytes.Equal(p.data, decoded[again].data) {
				t.Fatalf("packet %d changed in a round trip", again)
			}
			again++
			return nil
		}); err != nil {
			t.Fatalf("re-encoded payload does not decode: %v", err)
		}
	})
}

func FuzzDecodePacket(f *testing.F) {
	for _, seed := range []string{"4hello", "2probe", "5", "", "9", "\xff"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := decodePacket(in)
		if err != nil {
			return
		}
		if p.typ < packetOpen || p.typ > packetNoop || len(p.data) != len(in)-1 {
			t.Fatalf("decodePacket(%q) = %+v", in, p)
		}
	})
}

func BenchmarkEncodePayload(b *testing.B) {
	packets := []packet{
		{typ: packetMessage, data: []byte(`2["message",{"user":"42","username":"ada","message":"hello, world"}]`)},
		{typ: packetMessage, data: bytes.Repeat([]byte{7}, 256), binary: true},
		{typ: packetPing},
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = appendPayload(buf[:0], packets)
	}
	b.SetBytes(int64(len(buf)))
}
