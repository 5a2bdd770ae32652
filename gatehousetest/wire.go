package gatehousetest

import (
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/engineio"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// Packet is one message a client receives: the text of a Socket.IO packet
// (such as `61-7[{"_placeholder":true,"num":0}]`), or one binary attachment
// following it.
type Packet struct {
	// Text is the packet's text; "" for an attachment.
	Text string
	// Binary is the attachment's bytes; nil for the text.
	Binary []byte
}

// AckPackets are what a client receives when the gateway acks its event
// id in namespace with a handler's reply: an ACK with the reply as its one
// argument (a gatehouse.Args spliced as the arguments, none for nil), or a
// BINARY_ACK followed by one message per attachment when the reply holds
// bytes.
func AckPackets(namespace string, id int64, reply any) ([]Packet, error) {
	var msgs []engineio.Message
	var err error
	if reply == nil {
		msgs, err = socketio.EncodeAck(namespace, id)
	} else {
		msgs, err = socketio.EncodeAck(namespace, id, reply)
	}
	if err != nil {
		return nil, fmt.Errorf("ack %d in %s: %w", id, namespace, err)
	}
	return packetsOf(msgs), nil
}

// EventPackets are what a client receives for an event in namespace with
// args, as a handler emits or broadcasts it (gatehouse.Args spliced, bytes
// sent as attachments).
func EventPackets(namespace, event string, args ...any) ([]Packet, error) {
	msgs, err := socketio.EncodeEvent(namespace, socketio.NoID, event, args...)
	if err != nil {
		return nil, fmt.Errorf("event %q in %s: %w", event, namespace, err)
	}
	return packetsOf(msgs), nil
}

func packetsOf(msgs []engineio.Message) []Packet {
	out := make([]Packet, len(msgs))
	for i, m := range msgs {
		if m.Binary {
			// Non-nil even when empty: an empty attachment is still one.
			out[i].Binary = append(make([]byte, 0, len(m.Data)), m.Data...)
		} else {
			out[i].Text = string(m.Data)
		}
	}
	return out
}
