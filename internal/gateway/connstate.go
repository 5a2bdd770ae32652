package gateway

import (
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/lifecycle"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// connState is what the gateway keeps for one socket, beside what the
// Socket.IO layer keeps. It is attached to the socket the first time the
// gateway needs to keep something, so that a socket needing nothing (no
// event yet, no token expiry, no on_connect) holds nothing; each part is
// likewise created on first use. The parts are atomic pointers rather than
// fields under a lock: each is set once, or replaced whole, from the
// goroutines that serve the socket (its events, its hooks, its timers).
// Most idle sockets keep one for their token's expiry, whose timers are
// its fields rather than a part of their own (see expiryWatch): it stays
// within 128 bytes, so a part that few sockets need shares a pointer
// (connect).
type connState struct {
	// s is the socket, for the expiry callbacks.
	s *socketio.Socket
	// serial runs the socket's events in order.
	serial atomic.Pointer[serial]
	// flood is the socket's share of server.limits.flood.
	flood atomic.Pointer[floodBucket]
	// authz re-authorizes the socket before its authorizer's answer ends.
	authz atomic.Pointer[authzWatch]
	// connect is what the socket's CONNECT leaves for later, made when
	// there is some.
	connect atomic.Pointer[connectState]
	// presence orders the socket's connect and disconnect hooks.
	presence lifecycle.Presence
	// expiry holds the timers of the socket's token.
	expiry expiryWatch
}

// connectState is what a socket's CONNECT leaves for later.
type connectState struct {
	// trace is what the socket's event spans need from its CONNECT, kept
	// only while server.tracing is on.
	trace atomic.Pointer[socketTrace]
	// handshakeAuth carries the CONNECT auth payload (its token removed)
	// from the Connect hook to on_connect, and is cleared there.
	handshakeAuth atomic.Pointer[gatehouse.Payload]
}

// stateOf returns the gateway's state of s, attaching it on first use.
func stateOf(s *socketio.Socket) *connState {
	if cs, ok := s.Attached().(*connState); ok {
		return cs
	}
	cs := &connState{s: s}
	cs.expiry.warn.Init(expiryWarned, cs)
	cs.expiry.expire.Init(expiryReached, cs)
	return s.AttachOnce(cs).(*connState)
}

// keptStateOf returns the gateway's state of s, or nil when nothing was
// kept for s yet: for readers that have nothing to do then.
func keptStateOf(s *socketio.Socket) *connState {
	cs, _ := s.Attached().(*connState)
	return cs
}

// loadOrCreate returns *p, first storing a new zero T when p is nil; of
// two goroutines creating at once, both get the one stored first.
func loadOrCreate[T any](p *atomic.Pointer[T]) *T {
	if v := p.Load(); v != nil {
		return v
	}
	if v := new(T); p.CompareAndSwap(nil, v) {
		return v
	}
	return p.Load()
}
