package engineio

import (
	"crypto/tls"
	"net"
	"testing"
)

// wrapped stands for a connection wrapper that offers NetConn, as the
// gateway's listener wrapper does.
type wrapped struct{ net.Conn }

func (w wrapped) NetConn() net.Conn { return w.Conn }

// hijacked stands for fasthttp's hijacked connection.
type hijacked struct{ net.Conn }

func (h hijacked) UnsafeConn() net.Conn { return h.Conn }

func TestHookConnFoundUnderWrappers(t *testing.T) {
	raw, other := net.Pipe()
	defer raw.Close()
	defer other.Close()
	hook := &hookConn{Conn: raw}
	tests := []struct {
		name string
		conn net.Conn
		want *hookConn
	}{
		{"the hooked connection itself", hook, hook},
		{"under fasthttp's hijacked connection", hijacked{hook}, hook},
		{"under TLS and a wrapper", hijacked{tls.Server(wrapped{hook}, &tls.Config{})}, hook},
		{"a connection not from WrapListener", hijacked{wrapped{raw}}, nil},
		{"a wrapper that cannot be looked through", struct{ net.Conn }{hook}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hookConnOf(tc.conn); got != tc.want {
				t.Fatalf("hookConnOf = %p, want %p", got, tc.want)
			}
		})
	}
}

func TestHookRunsBeforeEachRead(t *testing.T) {
	raw, other := net.Pipe()
	defer raw.Close()
	defer other.Close()
	hook := &hookConn{Conn: raw}
	calls := 0
	f := func() { calls++ }
	hook.beforeRead.Store(&f)
	go func() { _, _ = other.Write([]byte("ab")) }()
	buf := make([]byte, 1)
	for range 2 {
		if _, err := hook.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	hook.beforeRead.Store(nil)
	go func() { _, _ = other.Write([]byte("c")) }()
	if _, err := hook.Read(buf); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Fatalf("hook ran %d times, want 2 (once per read while set)", calls)
	}
}
