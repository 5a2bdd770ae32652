package engineio

import "errors"

// ErrClosed is returned by Conn.Send once the session is closing or closed.
var ErrClosed = errors.New("engineio: session closed")

// ErrQueueFull is returned by Conn.Send when the session's bounded send
// queue cannot take the messages; the session is closed as a slow consumer.
var ErrQueueFull = errors.New("engineio: send queue full")

// errorCode is one of the Engine.IO protocol error codes, answered as JSON
// {"code","message"} with the same numbers and messages as the reference
// server so that clients and tooling recognise them.
type errorCode int

const (
	codeUnknownTransport errorCode = iota
	codeUnknownSID
	codeBadHandshakeMethod
	codeBadRequest
	codeForbidden
	codeUnsupportedProtocolVersion
)

// errorMessages are the reference server's messages, indexed by code.
var errorMessages = [...]string{
	codeUnknownTransport:           "Transport unknown",
	codeUnknownSID:                 "Session ID unknown",
	codeBadHandshakeMethod:         "Bad handshake method",
	codeBadRequest:                 "Bad request",
	codeForbidden:                  "Forbidden",
	codeUnsupportedProtocolVersion: "Unsupported protocol version",
}

func (c errorCode) message() string { return errorMessages[c] }

// errStopPayload ends the decoding of a payload after a close packet.
var errStopPayload = errors.New("payload ended by close packet")
