package engineio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
)

// packetType is the first character of an Engine.IO v4 packet.
type packetType byte

// The packet types of Engine.IO v4.
const (
	packetOpen    packetType = '0'
	packetClose   packetType = '1'
	packetPing    packetType = '2'
	packetPong    packetType = '3'
	packetMessage packetType = '4'
	packetUpgrade packetType = '5'
	packetNoop    packetType = '6'
	// packetWSPong is no Engine.IO packet: it queues the WebSocket pong
	// answering a client's ping on the poller read path, written in turn
	// with the packets.
	packetWSPong packetType = 'P'
)

// recordSeparator joins the packets of one HTTP long-polling payload.
const recordSeparator = 0x1e

// binaryPrefix marks a base64-encoded binary message in a polling payload.
const binaryPrefix = 'b'

// probe is the data of the ping/pong pair that tests a WebSocket before the
// upgrade.
const probe = "probe"

// packet is one decoded Engine.IO packet. For a message, binary tells
// whether data is binary; other packet types are always text.
type packet struct {
	typ    packetType
	data   []byte
	binary bool
	// continued marks a queued message sent together with the one before
	// it (the binary attachments of one Socket.IO packet), which is only
	// ever dropped along with it.
	continued bool
}

var (
	errEmptyPacket   = errors.New("empty packet")
	errUnknownPacket = errors.New("unknown packet type")
	errBadBase64     = errors.New("invalid base64 in binary packet")
)

// decodePacket parses one text packet (a WebSocket text frame or one record
// of a polling payload). data aliases b.
func decodePacket(b []byte) (packet, error) {
	if len(b) == 0 {
		return packet{}, errEmptyPacket
	}
	typ := packetType(b[0])
	if typ < packetOpen || typ > packetNoop {
		return packet{}, fmt.Errorf("%w %q", errUnknownPacket, b[0])
	}
	return packet{typ: typ, data: b[1:]}, nil
}

// decodePayload parses an HTTP long-polling payload and calls fn for each
// packet in order, stopping at the first error (of parsing or of fn). Text
// data aliases b; binary data is freshly allocated.
func decodePayload(b []byte, fn func(packet) error) error {
	for {
		record := b
		next := bytes.IndexByte(b, recordSeparator)
		if next >= 0 {
			record = b[:next]
		}
		p, err := decodeRecord(record)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		if next < 0 {
			return nil
		}
		b = b[next+1:]
	}
}

// decodeRecord parses one record of a polling payload: a text packet or "b"
// followed by a base64-encoded binary message.
func decodeRecord(record []byte) (packet, error) {
	if len(record) > 0 && record[0] == binaryPrefix {
		data := make([]byte, base64.StdEncoding.DecodedLen(len(record)-1))
		n, err := base64.StdEncoding.Decode(data, record[1:])
		if err != nil {
			return packet{}, fmt.Errorf("%w: %w", errBadBase64, err)
		}
		return packet{typ: packetMessage, data: data[:n], binary: true}, nil
	}
	return decodePacket(record)
}

// appendPayload encodes packets as one polling payload: records joined by
// the record separator, binary messages as "b" and base64.
func appendPayload(dst []byte, packets []packet) []byte {
	for i, p := range packets {
		if i > 0 {
			dst = append(dst, recordSeparator)
		}
		if p.binary {
			dst = append(dst, binaryPrefix)
			dst = base64.StdEncoding.AppendEncode(dst, p.data)
			continue
		}
		dst = append(dst, byte(p.typ))
		dst = append(dst, p.data...)
	}
	return dst
}
