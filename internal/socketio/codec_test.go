package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
)

func text(s string) engineio.Message { return engineio.Message{Data: []byte(s)} }
func bin(b string) engineio.Message  { return engineio.Message{Data: []byte(b), Binary: true} }

// decodeAll feeds messages to a fresh decoder and returns the packets it
// completes, stopping at the first error.
func decodeAll(msgs ...engineio.Message) ([]*Packet, error) {
	var d Decoder
	var out []*Packet
	for _, m := range msgs {
		p, err := d.Add(m)
		if err != nil {
			return out, err
		}
		if p != nil {
			out = append(out, p)
		}
	}
	return out, nil
}

func TestDecodeAcceptsReferencePackets(t *testing.T) {
	tests := []struct {
		name        string
		msgs        []engineio.Message
		typ         PacketType
		namespace   string
		id          int64
		data        string
		attachments []string
	}{
		{"connect to main namespace", []engineio.Message{text("0")}, PacketConnect, "/", NoID, "", nil},
		{"connect with auth", []engineio.Message{text(`0/chat,{"token":"abc"}`)}, PacketConnect, "/chat", NoID, `{"token":"abc"}`, nil},
		{"connect without trailing comma", []engineio.Message{text("0/chat")}, PacketConnect, "/chat", NoID, "", nil},
		{"disconnect", []engineio.Message{text("1/chat,")}, PacketDisconnect, "/chat", NoID, "", nil},
		{"event", []engineio.Message{text(`2["hello",1]`)}, PacketEvent, "/", NoID, `["hello",1]`, nil},
		{"event with id and namespace", []engineio.Message{text(`2/admin,456["project:delete",123]`)}, PacketEvent, "/admin", 456, `["project:delete",123]`, nil},
		{"ack", []engineio.Message{text(`3/admin,456[]`)}, PacketAck, "/admin", 456, `[]`, nil},
		{"ack without payload", []engineio.Message{text(`312`)}, PacketAck, "/", 12, "", nil},
		{"connect error object", []engineio.Message{text(`4{"message":"Not authorized"}`)}, PacketConnectError, "/", NoID, `{"message":"Not authorized"}`, nil},
		{"connect error string", []engineio.Message{text(`4/x,"nope"`)}, PacketConnectError, "/x", NoID, `"nope"`, nil},
		{
			"binary event",
			[]engineio.Message{text(`51-["hello",{"_placeholder":true,"num":0}]`), bin("\x01\x02\x03")},
			PacketBinaryEvent, "/", NoID, `["hello",{"_placeholder":true,"num":0}]`, []string{"\x01\x02\x03"},
		},
		{
			"binary ack with namespace and id",
			[]engineio.Message{text(`62-/admin,456[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]`), bin("a"), bin("b")},
			PacketBinaryAck, "/admin", 456, `[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]`, []string{"a", "b"},
		},
		{"binary event with no attachment", []engineio.Message{text(`50-["x"]`)}, PacketBinaryEvent, "/", NoID, `["x"]`, nil},
		{"unicode event name", []engineio.Message{text(`2["h\u00e9llo"]`)}, PacketEvent, "/", NoID, `["h\u00e9llo"]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			packets, err := decodeAll(tt.msgs...)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(packets) != 1 {
				t.Fatalf("got %d packets, want 1", len(packets))
			}
			p := packets[0]
			if p.Type != tt.typ || p.Namespace != tt.namespace || p.ID != tt.id || string(p.Data) != tt.data {
				t.Fatalf("got %s %q id=%d data=%s, want %s %q id=%d data=%s", p.Type, p.Namespace, p.ID, p.Data, tt.typ, tt.namespace, tt.id, tt.data)
			}
			if len(p.Attachments) != len(tt.attachments) {
				t.Fatalf("got %d attachments, want %d", len(p.Attachments), len(tt.attachments))
			}
			for k := range tt.attachments {
				if string(p.Attachments[k]) != tt.attachments[k] {
					t.Fatalf("attachment %d = %q, want %q", k, p.Attachments[k], tt.attachments[k])
				}
			}
		})
	}
}

func TestDecodeRefusesMalformedInput(t *testing.T) {
	long := "2/" + strings.Repeat("n", MaxNamespaceLength) + `,["x"]`
	tests := []struct {
		name string
		msgs []engineio.Message
	}{
		{"empty", []engineio.Message{text("")}},
		{"unknown type", []engineio.Message{text("7")}},
		{"non digit type", []engineio.Message{text("x")}},
		{"event without payload", []engineio.Message{text("2")}},
		{"event payload not an array", []engineio.Message{text(`2{"a":1}`)}},
		{"event with empty array", []engineio.Message{text(`2[]`)}},
		{"event name not a string", []engineio.Message{text(`2[1,2]`)}},
		{"event name is an object", []engineio.Message{text(`2[{"a":1}]`)}},
		{"reserved event name", []engineio.Message{text(`2["disconnect"]`)}},
		{"invalid JSON", []engineio.Message{text(`2["x",]`)}},
		{"truncated JSON", []engineio.Message{text(`2["x"`)}},
		{"connect payload not an object", []engineio.Message{text(`0[1]`)}},
		{"disconnect with payload", []engineio.Message{text(`1{}`)}},
		{"ack payload not an array", []engineio.Message{text(`31{}`)}},
		{"connect error payload an array", []engineio.Message{text(`4/x,[1]`)}},
		{"binary without count", []engineio.Message{text(`5["x"]`)}},
		{"binary without dash", []engineio.Message{text(`51["x"]`)}},
		{"binary with empty count", []engineio.Message{text(`5-["x"]`)}},
		{"too many attachments", []engineio.Message{text(`533-["x"]`)}},
		{"attachment count too long", []engineio.Message{text(`50001-["x"]`)}},
		{"namespace too long", []engineio.Message{text(long)}},
		{"namespace not UTF-8", []engineio.Message{text("0/\xff,")}},
		{"id too long", []engineio.Message{text(`2` + strings.Repeat("9", MaxIDDigits+1) + `["x"]`)}},
		{"binary message first", []engineio.Message{bin("x")}},
		{"text while attachments expected", []engineio.Message{text(`51-["x",{"_placeholder":true,"num":0}]`), text(`2["y"]`)}},
		{"placeholder out of range", []engineio.Message{text(`51-["x",{"_placeholder":true,"num":1}]`), bin("a")}},
		{"placeholder negative", []engineio.Message{text(`51-["x",{"_placeholder":true,"num":-1}]`), bin("a")}},
		{"placeholder fractional", []engineio.Message{text(`52-["x",{"_placeholder":true,"num":0.5}]`), bin("a"), bin("b")}},
		{"placeholder without num", []engineio.Message{text(`51-["x",{"_placeholder":true}]`), bin("a")}},
		{"placeholder num a string", []engineio.Message{text(`51-["x",{"_placeholder":true,"num":"0"}]`), bin("a")}},
		{"placeholder in binary packet without attachments", []engineio.Message{text(`50-["x",{"_placeholder":true,"num":0}]`)}},
		{"escaped placeholder key", []engineio.Message{text(`51-["x",{"\u005fplaceholder":true,"num":3}]`), bin("a")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			packets, err := decodeAll(tt.msgs...)
			if err == nil {
				t.Fatalf("decoded %d packets, want an error", len(packets))
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestDecoderRecoversAfterError(t *testing.T) {
	var d Decoder
	if _, err := d.Add(text(`51-["x",{"_placeholder":true,"num":0}]`)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Add(text(`2["y"]`)); err == nil {
		t.Fatal("text during reconstruction accepted")
	}
	if d.Waiting() {
		t.Fatal("decoder still waiting after an error")
	}
	p, err := d.Add(text(`2["y"]`))
	if err != nil || p == nil {
		t.Fatalf("decoder did not start afresh: %v", err)
	}
}

func TestDecodeCopiesMessageData(t *testing.T) {
	var d Decoder
	data := []byte(`51-["x",{"_placeholder":true,"num":0}]`)
	if _, err := d.Add(engineio.Message{Data: data}); err != nil {
		t.Fatal(err)
	}
	attachment := []byte("abc")
	p, err := d.Add(engineio.Message{Data: attachment, Binary: true})
	if err != nil {
		t.Fatal(err)
	}
	for k := range data {
		data[k] = 'z'
	}
	attachment[0] = 'z'
	if string(p.Data) != `["x",{"_placeholder":true,"num":0}]` || string(p.Attachments[0]) != "abc" {
		t.Fatalf("packet changed with the caller's buffers: %s %q", p.Data, p.Attachments[0])
	}
}

func TestPacketEventSplitsArgumentsRaw(t *testing.T) {
	packets, err := decodeAll(text(`2/chat,["say", {"b": [1, 2]} ,"x\"y", null, 1e3]`))
	if err != nil {
		t.Fatal(err)
	}
	name, args, err := packets[0].Event()
	if err != nil {
		t.Fatal(err)
	}
	if name != "say" {
		t.Fatalf("name = %q", name)
	}
	want := []string{`{"b": [1, 2]}`, `"x\"y"`, `null`, `1e3`}
	if len(args.Raw) != len(want) {
		t.Fatalf("got %d args, want %d", len(args.Raw), len(want))
	}
	for k := range want {
		if string(args.Raw[k]) != want[k] {
			t.Fatalf("arg %d = %s, want %s", k, args.Raw[k], want[k])
		}
	}
}

func TestPacketEventUnescapesName(t *testing.T) {
	packets, err := decodeAll(text(`2["a\"b\u00e9"]`))
	if err != nil {
		t.Fatal(err)
	}
	name, _, err := packets[0].Event()
	if err != nil || name != "a\"bé" {
		t.Fatalf("name = %q, %v", name, err)
	}
}

func messageTexts(msgs []engineio.Message) (string, []string) {
	var bins []string
	for _, m := range msgs[1:] {
		bins = append(bins, string(m.Data))
	}
	return string(msgs[0].Data), bins
}

func TestEncodeEventArguments(t *testing.T) {
	received := gatehouse.Args{
		Raw:         []json.RawMessage{json.RawMessage(`{"f":{"_placeholder":true,"num":0}}`), json.RawMessage(`[{"_placeholder":true,"num":1}]`)},
		Attachments: [][]byte{[]byte("A"), []byte("B")},
	}
	tests := []struct {
		name      string
		namespace string
		id        int64
		event     string
		args      []any
		wantText  string
		wantBins  []string
	}{
		{"no arguments", "/", NoID, "ping", nil, `2["ping"]`, nil},
		{"namespace and id", "/chat", 7, "m", []any{1}, `2/chat,7["m",1]`, nil},
		{"raw JSON kept as is", "/", NoID, "m", []any{json.RawMessage(`{"z":1, "a":2}`)}, `2["m",{"z":1, "a":2}]`, nil},
		{"values marshalled", "/", NoID, "m", []any{map[string]any{"ok": true}, "s", nil}, `2["m",{"ok":true},"s",null]`, nil},
		{"bytes become attachments", "/", NoID, "file", []any{[]byte("x"), "n", []byte("y")},
			`52-["file",{"_placeholder":true,"num":0},"n",{"_placeholder":true,"num":1}]`, []string{"x", "y"}},
		{"args spliced with placeholders intact", "/c", NoID, "fw", []any{received},
			`52-/c,["fw",{"f":{"_placeholder":true,"num":0}},[{"_placeholder":true,"num":1}]]`, []string{"A", "B"}},
		{"args renumbered after other attachments", "/", 3, "fw", []any{[]byte("P"), received, &received},
			`55-3["fw",{"_placeholder":true,"num":0},{"f":{"_placeholder":true,"num":1}},[{"_placeholder":true,"num":2}],{"f":{"_placeholder":true,"num":3}},[{"_placeholder":true,"num":4}]]`,
			[]string{"P", "A", "B", "A", "B"}},
		{"event name escaped", "/", NoID, `q"`, nil, `2["q\""]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := EncodeEvent(tt.namespace, tt.id, tt.event, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			gotText, gotBins := messageTexts(msgs)
			if gotText != tt.wantText {
				t.Fatalf("text = %s\nwant   %s", gotText, tt.wantText)
			}
			if strings.Join(gotBins, "|") != strings.Join(tt.wantBins, "|") {
				t.Fatalf("attachments = %q, want %q", gotBins, tt.wantBins)
			}
			if msgs[0].Binary {
				t.Fatal("text part marked binary")
			}
			for _, m := range msgs[1:] {
				if !m.Binary {
					t.Fatal("attachment not marked binary")
				}
			}
			// What the encoder produces, the decoder accepts unchanged.
			packets, err := decodeAll(msgs...)
			if err != nil || len(packets) != 1 {
				t.Fatalf("re-decode: %v", err)
			}
			again, err := Encode(packets[0])
			if err != nil {
				t.Fatal(err)
			}
			if againText, _ := messageTexts(again); againText != tt.wantText {
				t.Fatalf("round trip changed the packet: %s", againText)
			}
		})
	}
}

func TestEncodeRefusesBadArguments(t *testing.T) {
	tests := []struct {
		name  string
		event string
		args  []any
	}{
		{"invalid raw JSON", "m", []any{json.RawMessage(`{`)}},
		{"unmarshalable value", "m", []any{make(chan int)}},
		{"reserved event", "connect", nil},
		{"args placeholder out of range", "m", []any{gatehouse.Args{Raw: []json.RawMessage{json.RawMessage(`{"_placeholder":true,"num":4}`)}, Attachments: [][]byte{{1}}}}},
		{"args with invalid raw JSON", "m", []any{gatehouse.Args{Raw: []json.RawMessage{json.RawMessage(`[`)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := EncodeEvent("/", NoID, tt.event, tt.args...); err == nil {
				t.Fatal("encoded without error")
			}
		})
	}
	if _, err := EncodeEvent("chat", NoID, "m"); err == nil {
		t.Fatal("namespace without slash accepted")
	}
}

func TestEncodeAckTypes(t *testing.T) {
	msgs, err := EncodeAck("/", 5, map[string]bool{"ok": true})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(msgs[0].Data); got != `35[{"ok":true}]` {
		t.Fatalf("ack = %s", got)
	}
	msgs, err = EncodeAck("/x", 0, []byte{0xff})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(msgs[0].Data); got != `61-/x,0[{"_placeholder":true,"num":0}]` || len(msgs) != 2 {
		t.Fatalf("binary ack = %s (%d messages)", got, len(msgs))
	}
}

func TestEncodeControlPackets(t *testing.T) {
	tests := []struct {
		packet Packet
		want   string
	}{
		{Packet{Type: PacketConnect, Namespace: "/", ID: NoID, Data: json.RawMessage(`{"sid":"a"}`)}, `0{"sid":"a"}`},
		{Packet{Type: PacketConnect, Namespace: "/chat", ID: NoID, Data: json.RawMessage(`{"sid":"a"}`)}, `0/chat,{"sid":"a"}`},
		{Packet{Type: PacketDisconnect, Namespace: "/chat", ID: NoID}, `1/chat,`},
		{Packet{Type: PacketConnectError, Namespace: "/x", ID: NoID, Data: json.RawMessage(`{"message":"Invalid namespace"}`)}, `4/x,{"message":"Invalid namespace"}`},
	}
	for _, tt := range tests {
		msgs, err := Encode(&tt.packet)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(msgs[0].Data); got != tt.want {
			t.Fatalf("encoded %s, want %s", got, tt.want)
		}
	}
}

// FuzzDecode feeds arbitrary text and binary messages to the decoder: it
// must never panic, and whatever it accepts must encode back to messages
// it decodes to the same packet.
func FuzzDecode(f *testing.F) {
	seeds := []struct {
		text  string
		bins  []byte
		count uint8
	}{
		{"0", nil, 0},
		{`0/chat,{"token":"abc"}`, nil, 0},
		{`2/admin,456["project:delete",123]`, nil, 0},
		{`3/admin,456[]`, nil, 0},
		{`1/chat,`, nil, 0},
		{`4{"message":"x"}`, nil, 0},
		{`51-["hello",{"_placeholder":true,"num":0}]`, []byte{1, 2, 3}, 1},
		{`62-/admin,456[{"_placeholder":true,"num":1},{"a":{"_placeholder":true,"num":0}}]`, []byte("abcd"), 2},
		{`2["x",{"_placeholder":true,"num":0,"_placeholder":false}]`, nil, 0},
		{`5`, nil, 0},
		{`2[`, nil, 0},
		{`2/` + strings.Repeat("a", 300), nil, 0},
	}
	for _, s := range seeds {
		f.Add(s.text, s.bins, s.count)
	}
	f.Fuzz(func(t *testing.T, text string, bins []byte, count uint8) {
		msgs := []engineio.Message{{Data: []byte(text)}}
		parts := int(count % 8)
		for k := 0; k < parts; k++ {
			lo, hi := k*len(bins)/parts, (k+1)*len(bins)/parts
			msgs = append(msgs, engineio.Message{Data: bins[lo:hi], Binary: true})
		}
		var d Decoder
		for _, m := range msgs {
			p, err := d.Add(m)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error does not wrap ErrMalformed: %v", err)
				}
				return
			}
			if p == nil {
				continue
			}
			if p.Type == PacketEvent || p.Type == PacketBinaryEvent {
				if _, _, err := p.Event(); err != nil {
					t.Fatalf("accepted event does not split: %v", err)
				}
			}
			encoded, err := Encode(p)
			if err != nil {
				t.Fatalf("accepted packet does not encode: %v", err)
			}
			again, err := decodeAll(encoded...)
			if err != nil || len(again) != 1 {
				t.Fatalf("re-encoded packet does not decode: %v (%q)", err, encoded[0].Data)
			}
			q := again[0]
			if q.Type != p.Type {
				t.Fatalf("type changed: %s -> %s", p.Type, q.Type)
			}
			if q.Namespace != p.Namespace || q.ID != p.ID || !bytes.Equal(q.Data, p.Data) || len(q.Attachments) != len(p.Attachments) {
				t.Fatalf("round trip changed %+v into %+v", p, q)
			}
		}
	})
}
