package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
	"github.com/gatehouse-dev/gatehouse/internal/reserved"
)

// PacketType is the Socket.IO packet type, the first character of a packet.
type PacketType byte

// The packet types of Socket.IO v5.
const (
	PacketConnect      PacketType = 0
	PacketDisconnect   PacketType = 1
	PacketEvent        PacketType = 2
	PacketAck          PacketType = 3
	PacketConnectError PacketType = 4
	PacketBinaryEvent  PacketType = 5
	PacketBinaryAck    PacketType = 6
)

var packetTypeNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

// String returns the protocol name of the type, such as "BINARY_EVENT".
func (t PacketType) String() string {
	if int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

func (t PacketType) isBinary() bool { return t == PacketBinaryEvent || t == PacketBinaryAck }

// NoID is the Packet.ID of a packet that carries no acknowledgement id.
const NoID int64 = -1

// Limits the decoder enforces, so that a hostile client cannot make the
// server buffer or parse without bound.
const (
	// MaxAttachments is the most binary attachments one packet may announce.
	MaxAttachments = 32
	// MaxNamespaceLength is the longest namespace name accepted, in bytes.
	MaxNamespaceLength = 256
	// MaxIDDigits is the longest acknowledgement id accepted, in digits;
	// 16 digits hold every id a JavaScript client can count to.
	MaxIDDigits = 16
)

// reservedEvents may not be used as event names, in either direction: the
// client library gives them a meaning of their own (as the reference
// parser and server enforce).
var reservedEvents = reserved.Protocol()

// ErrMalformed is wrapped by every decoding error: the input is not a valid
// Socket.IO v5 packet.
var ErrMalformed = errors.New("malformed socket.io packet")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Packet is one Socket.IO packet.
type Packet struct {
	Type PacketType
	// Namespace is the namespace name; "/" when the packet names none.
	Namespace string
	// ID is the acknowledgement id, NoID when absent.
	ID int64
	// Data is the JSON payload exactly as sent (nil when absent), with
	// binary placeholders ({"_placeholder":true,"num":N}) left in place.
	Data json.RawMessage
	// Attachments are the binary parts the placeholders refer to.
	Attachments [][]byte
}

// Event splits an EVENT or BINARY_EVENT packet into its name and arguments.
// The arguments share memory with the packet.
func (p *Packet) Event() (string, gatehouse.Args, error) {
	if p.Type != PacketEvent && p.Type != PacketBinaryEvent {
		return "", gatehouse.Args{}, fmt.Errorf("socketio: %s packet is not an event", p.Type)
	}
	elements, err := splitArray(p.Data)
	if err != nil || len(elements) == 0 {
		return "", gatehouse.Args{}, malformed("event payload is not a non-empty array")
	}
	name, ok := eventName(elements[0])
	if !ok {
		return "", gatehouse.Args{}, malformed("event name is not a string")
	}
	return name, gatehouse.Args{Raw: elements[1:], Attachments: p.Attachments}, nil
}

// AckArgs returns the arguments of an ACK or BINARY_ACK packet.
func (p *Packet) AckArgs() ([]json.RawMessage, error) {
	if len(p.Data) == 0 {
		return nil, nil
	}
	elements, err := splitArray(p.Data)
	if err != nil {
		return nil, malformed("ack payload is not an array")
	}
	return elements, nil
}

// eventName decodes a JSON string element, avoiding a decode when it holds
// no escapes.
func eventName(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", false
	}
	return name, true
}

// ErrPacketTooLarge is returned by Decoder.Add when a packet's text part
// and attachments together exceed Decoder.MaxBytes.
var ErrPacketTooLarge = errors.New("socket.io packet too large")

// Decoder turns the Engine.IO messages of one session into packets: a text
// message, then as many binary messages as it announced. It keeps that
// state between calls, so each session needs its own; it is not safe for
// concurrent use.
type Decoder struct {
	// MaxBytes bounds a packet's text part and attachments together (no
	// bound when zero): the attachments are kept until the last one comes,
	// so each message alone being under the transport's limit is not
	// enough.
	MaxBytes int64

	partial *Packet
	pending int
	held    int64 // bytes of partial
}

// Add feeds one message. It returns the packet once complete, (nil, nil)
// while attachments are still expected, or an error for input that is not
// valid Socket.IO (wrapping ErrMalformed) or a packet over MaxBytes
// (wrapping ErrPacketTooLarge); after an error the decoder starts afresh.
// Add copies what it keeps, so msg.Data may be reused after the call.
func (d *Decoder) Add(msg engineio.Message) (*Packet, error) {
	if msg.Binary {
		return d.addAttachment(msg.Data)
	}
	if d.partial != nil {
		d.Reset()
		return nil, malformed("text message while binary attachments are expected")
	}
	if d.MaxBytes > 0 && int64(len(msg.Data)) > d.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes of text, at most %d allowed", ErrPacketTooLarge, len(msg.Data), d.MaxBytes)
	}
	p, attachments, err := decodeText(bytes.Clone(msg.Data))
	if err != nil {
		return nil, err
	}
	if attachments == 0 {
		if p.Type.isBinary() && len(p.Data) > 0 {
			if err := checkPlaceholders(p.Data, 0); err != nil {
				return nil, malformed("illegal attachments: %v", err)
			}
		}
		return p, nil
	}
	p.Attachments = make([][]byte, 0, attachments)
	d.partial, d.pending, d.held = p, attachments, int64(len(msg.Data))
	return nil, nil
}

// addAttachment keeps one binary part of the packet being received,
// refusing it before it is copied when it would take the packet past
// MaxBytes.
func (d *Decoder) addAttachment(data []byte) (*Packet, error) {
	if d.partial == nil {
		return nil, malformed("binary message when no attachment is expected")
	}
	if d.MaxBytes > 0 && d.held+int64(len(data)) > d.MaxBytes {
		held, count := d.held+int64(len(data)), len(d.partial.Attachments)+1
		d.Reset()
		return nil, fmt.Errorf("%w: %d bytes with %d attachments, at most %d allowed", ErrPacketTooLarge, held, count, d.MaxBytes)
	}
	d.partial.Attachments = append(d.partial.Attachments, bytes.Clone(data))
	d.held += int64(len(data))
	d.pending--
	if d.pending > 0 {
		return nil, nil
	}
	p := d.partial
	d.Reset()
	if err := checkPlaceholders(p.Data, len(p.Attachments)); err != nil {
		return nil, malformed("illegal attachments: %v", err)
	}
	return p, nil
}

// Reset drops a packet waiting for its attachments.
func (d *Decoder) Reset() {
	d.partial, d.pending, d.held = nil, 0, 0
}

// Waiting reports whether the decoder expects binary attachments.
func (d *Decoder) Waiting() bool { return d.partial != nil }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// decodeText parses the text part of a packet:
// <type>[<attachments>-][<namespace>,][<id>][<JSON payload>]. data is owned
// by the packet afterwards.
func decodeText(data []byte) (*Packet, int, error) {
	if len(data) == 0 {
		return nil, 0, malformed("empty packet")
	}
	if !isDigit(data[0]) || data[0] > '6' {
		return nil, 0, malformed("unknown packet type %q", data[0])
	}
	p := &Packet{Type: PacketType(data[0] - '0'), Namespace: "/", ID: NoID}
	i := 1
	attachments := 0
	if p.Type.isBinary() {
		start := i
		for i < len(data) && isDigit(data[i]) {
			i++
			if i-start > 3 {
				return nil, 0, malformed("attachment count too long")
			}
		}
		if i == start || i >= len(data) || data[i] != '-' {
			return nil, 0, malformed("missing attachment count")
		}
		attachments, _ = strconv.Atoi(string(data[start:i]))
		if attachments > MaxAttachments {
			return nil, 0, malformed("%d attachments, at most %d allowed", attachments, MaxAttachments)
		}
		i++
	}
	if i < len(data) && data[i] == '/' {
		start := i
		for i < len(data) && data[i] != ',' {
			i++
			if i-start > MaxNamespaceLength {
				return nil, 0, malformed("namespace longer than %d bytes", MaxNamespaceLength)
			}
		}
		if !utf8.Valid(data[start:i]) {
			return nil, 0, malformed("namespace is not valid UTF-8")
		}
		p.Namespace = string(data[start:i])
		if i < len(data) {
			i++ // the comma
		}
	}
	if start := i; i < len(data) && isDigit(data[i]) {
		for i < len(data) && isDigit(data[i]) {
			i++
			if i-start > MaxIDDigits {
				return nil, 0, malformed("acknowledgement id longer than %d digits", MaxIDDigits)
			}
		}
		id, err := strconv.ParseInt(string(data[start:i]), 10, 64)
		if err != nil {
			return nil, 0, malformed("acknowledgement id: %v", err)
		}
		p.ID = id
	}
	payload := trimJSONSpace(data[i:])
	if len(payload) == 0 {
		if p.Type == PacketEvent || p.Type == PacketBinaryEvent {
			return nil, 0, malformed("%s without payload", p.Type)
		}
		return p, attachments, nil
	}
	if p.Type == PacketDisconnect {
		return nil, 0, malformed("DISCONNECT carries no payload")
	}
	if !json.Valid(payload) {
		return nil, 0, malformed("payload is not valid JSON")
	}
	if err := checkPayloadShape(p.Type, payload); err != nil {
		return nil, 0, err
	}
	p.Data = json.RawMessage(payload)
	return p, attachments, nil
}

// trimJSONSpace removes the whitespace JSON allows around a value (and
// nothing else: JSON.parse refuses other Unicode spaces).
func trimJSONSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// checkPayloadShape applies the reference parser's rules for what each
// packet type may carry.
func checkPayloadShape(t PacketType, payload []byte) error {
	switch t {
	case PacketConnect:
		if payload[0] != '{' {
			return malformed("CONNECT payload is not an object")
		}
	case PacketConnectError:
		if payload[0] != '{' && payload[0] != '"' {
			return malformed("CONNECT_ERROR payload is neither an object nor a string")
		}
	case PacketAck, PacketBinaryAck:
		if payload[0] != '[' {
			return malformed("%s payload is not an array", t)
		}
	case PacketEvent, PacketBinaryEvent:
		if payload[0] != '[' {
			return malformed("%s payload is not an array", t)
		}
		s := jsonScanner{data: payload}
		i := s.skipSpace(1)
		end, err := s.value(i, 1)
		if err != nil {
			return malformed("%s payload has no event name", t)
		}
		raw := payload[i:end]
		if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 {
			// No escapes: the name is the bytes between the quotes, looked
			// up without the string Packet.Event makes of it later.
			if _, reserved := reservedEvents[string(raw[1:len(raw)-1])]; reserved {
				return malformed("%q is a reserved event name", raw[1:len(raw)-1])
			}
			return nil
		}
		name, ok := eventName(raw)
		if !ok {
			return malformed("event name is not a string")
		}
		if _, reserved := reservedEvents[name]; reserved {
			return malformed("%q is a reserved event name", name)
		}
	}
	return nil
}

// Encode renders a packet as Engine.IO messages: the text part, then one
// binary message per attachment. An EVENT or ACK with attachments is sent
// as BINARY_EVENT or BINARY_ACK, as the reference encoder does.
func Encode(p *Packet) ([]engineio.Message, error) {
	if p.Type > PacketBinaryAck {
		return nil, fmt.Errorf("socketio: encode: unknown packet type %d", p.Type)
	}
	if err := checkNamespace(p.Namespace); err != nil {
		return nil, fmt.Errorf("socketio: encode: %w", err)
	}
	if len(p.Data) > 0 && !json.Valid(p.Data) {
		return nil, errors.New("socketio: encode: payload is not valid JSON")
	}
	t := p.Type
	if len(p.Attachments) > 0 {
		switch t {
		case PacketEvent:
			t = PacketBinaryEvent
		case PacketAck:
			t = PacketBinaryAck
		case PacketBinaryEvent, PacketBinaryAck:
		default:
			return nil, fmt.Errorf("socketio: encode: %s cannot carry attachments", t)
		}
	}
	buf := make([]byte, 0, 16+len(p.Namespace)+len(p.Data))
	buf = appendHeader(buf, t, len(p.Attachments), p.Namespace, p.ID)
	buf = append(buf, p.Data...)
	return withAttachments(buf, p.Attachments), nil
}

func checkNamespace(name string) error {
	if name == "" || name[0] != '/' || bytes.IndexByte([]byte(name), ',') >= 0 {
		return fmt.Errorf("invalid namespace %q", name)
	}
	return nil
}

// appendHeader writes everything before the payload.
func appendHeader(buf []byte, t PacketType, attachments int, namespace string, id int64) []byte {
	buf = append(buf, byte('0'+t))
	if t.isBinary() {
		buf = strconv.AppendInt(buf, int64(attachments), 10)
		buf = append(buf, '-')
	}
	if namespace != "/" && namespace != "" {
		buf = append(buf, namespace...)
		buf = append(buf, ',')
	}
	if id >= 0 {
		buf = strconv.AppendInt(buf, id, 10)
	}
	return buf
}

func withAttachments(text []byte, attachments [][]byte) []engineio.Message {
	msgs := make([]engineio.Message, 1+len(attachments))
	msgs[0] = engineio.Message{Data: text}
	for k, a := range attachments {
		msgs[k+1] = engineio.Message{Data: a, Binary: true}
	}
	return msgs
}

// EncodeEvent renders an EVENT (BINARY_EVENT when an argument is binary) to
// namespace; id is NoID unless the client is asked to acknowledge.
// Arguments are encoded as documented on gatehouse.Socket.Emit.
func EncodeEvent(namespace string, id int64, event string, args ...any) ([]engineio.Message, error) {
	if _, reserved := reservedEvents[event]; reserved {
		return nil, fmt.Errorf("socketio: %q is a reserved event name", event)
	}
	name := appendJSONString(make([]byte, 0, len(event)+2), event)
	return encodeArgsPacket(PacketEvent, namespace, id, name, args)
}

// EncodeAck renders the ACK (BINARY_ACK when an argument is binary) of the
// event with the given id.
func EncodeAck(namespace string, id int64, args ...any) ([]engineio.Message, error) {
	return encodeArgsPacket(PacketAck, namespace, id, nil, args)
}

func encodeArgsPacket(t PacketType, namespace string, id int64, name []byte, args []any) ([]engineio.Message, error) {
	if err := checkNamespace(namespace); err != nil {
		return nil, fmt.Errorf("socketio: encode: %w", err)
	}
	attachments, size := 0, len(name)+len(namespace)+24
	for _, arg := range args {
		switch v := arg.(type) {
		case []byte:
			attachments++
			size += 32
		case json.RawMessage:
			size += len(v) + 1
		case gatehouse.Args:
			attachments += len(v.Attachments)
			size += argsSize(v)
		case *gatehouse.Args:
			if v != nil {
				attachments += len(v.Attachments)
				size += argsSize(*v)
			}
		default:
			size += 16
		}
	}
	if attachments > 0 {
		t += PacketBinaryEvent - PacketEvent // EVENT->BINARY_EVENT, ACK->BINARY_ACK
	}
	// The packet is built in a buffer on the stack when it fits and copied
	// out at its exact size: one allocation whatever the estimate missed.
	var stack [512]byte
	buf := slices.Grow(stack[:0], size)
	buf = appendHeader(buf, t, attachments, namespace, id)
	buf = append(buf, '[')
	buf = append(buf, name...)
	first := len(name) == 0
	var binary [][]byte
	if attachments > 0 {
		binary = make([][]byte, 0, attachments)
	}
	for k, arg := range args {
		var err error
		buf, binary, err = appendArg(buf, binary, arg, &first)
		if err != nil {
			return nil, fmt.Errorf("socketio: argument %d: %w", k, err)
		}
	}
	buf = append(buf, ']')
	return withAttachments(bytes.Clone(buf), binary), nil
}

func argsSize(a gatehouse.Args) int {
	n := 0
	for _, r := range a.Raw {
		n += len(r) + 1
	}
	return n
}

func appendSeparator(buf []byte, first *bool) []byte {
	if *first {
		*first = false
		return buf
	}
	return append(buf, ',')
}

// appendArg appends one emit argument; binary ones become placeholders
// numbered after the attachments collected so far.
func appendArg(buf []byte, binary [][]byte, arg any, first *bool) ([]byte, [][]byte, error) {
	switch v := arg.(type) {
	case nil:
		return append(appendSeparator(buf, first), "null"...), binary, nil
	case json.RawMessage:
		return appendRaw(buf, v, first), binary, validRaw(v)
	case []byte:
		buf = appendSeparator(buf, first)
		buf = append(buf, `{"_placeholder":true,"num":`...)
		buf = strconv.AppendInt(buf, int64(len(binary)), 10)
		buf = append(buf, '}')
		return buf, append(binary, v), nil
	case *gatehouse.Args:
		if v == nil {
			return buf, binary, nil
		}
		return appendArgs(buf, binary, *v, first)
	case gatehouse.Args:
		return appendArgs(buf, binary, v, first)
	default:
		buf = appendSeparator(buf, first)
		if fast, ok := appendJSON(buf, v, 0); ok {
			return fast, binary, nil
		}
		encoded, err := json.Marshal(v)
		if err != nil {
			return buf, binary, err
		}
		return append(buf, encoded...), binary, nil
	}
}

func validRaw(raw json.RawMessage) error {
	if len(raw) > 0 && !json.Valid(raw) {
		return errors.New("json.RawMessage is not valid JSON")
	}
	return nil
}

func appendRaw(buf []byte, raw json.RawMessage, first *bool) []byte {
	buf = appendSeparator(buf, first)
	if len(raw) == 0 {
		return append(buf, "null"...)
	}
	return append(buf, raw...)
}

// appendArgs splices received arguments in; their placeholders are
// renumbered when attachments precede them in the packet.
func appendArgs(buf []byte, binary [][]byte, a gatehouse.Args, first *bool) ([]byte, [][]byte, error) {
	offset := len(binary)
	for _, raw := range a.Raw {
		if err := validRaw(raw); err != nil {
			return buf, binary, err
		}
		if len(a.Attachments) == 0 || len(raw) == 0 {
			buf = appendRaw(buf, raw, first)
			continue
		}
		var err error
		buf, err = appendShiftedPlaceholders(appendSeparator(buf, first), raw, offset, len(a.Attachments))
		if err != nil {
			return buf, binary, fmt.Errorf("illegal attachments: %w", err)
		}
	}
	return buf, append(binary, a.Attachments...), nil
}
