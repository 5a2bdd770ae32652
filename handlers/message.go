package handlers

import (
	"encoding/json"

	"github.com/gatehouse-dev/gatehouse"
)

// eventMessage is what the webhook and publish handlers hand to backends:
// one event with who sent it. Data is the payload as received, not
// re-encoded, so that numbers and key order reach the backend unchanged.
type eventMessage struct {
	Namespace string           `json:"namespace"`
	Event     string           `json:"event"`
	Data      json.RawMessage  `json:"data"`
	Claims    gatehouse.Claims `json:"claims"`
	SocketID  string           `json:"socket_id"`
	// Auth is the CONNECT auth payload, in on_connect handlers only, as
	// expressions see it (handshake.auth: without the verified token).
	Auth json.RawMessage `json:"auth,omitempty"`
}

// marshalEventMessage encodes the call for a backend. Claims are {} rather
// than null for a socket without a token, as the CEL variable user is.
func marshalEventMessage(call *Call) ([]byte, error) {
	msg := eventMessage{
		Namespace: call.Socket.Namespace(),
		Event:     call.Event,
		Data:      call.Payload.Raw(),
		Claims:    call.Socket.Claims(),
		SocketID:  call.Socket.ID(),
		Auth:      call.Auth.Raw(),
	}
	if msg.Claims == nil {
		msg.Claims = gatehouse.Claims{}
	}
	body, err := json.Marshal(msg)
	if err != nil {
		// Only a payload that is not JSON can fail here; the protocol
		// layer should have refused it already.
		return nil, gatehouse.Errorf(gatehouse.CodeInvalidPayload, "payload is not valid JSON")
	}
	return body, nil
}
