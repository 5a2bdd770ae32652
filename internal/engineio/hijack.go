package engineio

import (
	"bufio"
	"io"
	"net"
	"reflect"
	"sync"
	"unsafe"
)

// readerType is the type of the field through which fasthttp's hijacked
// connection reads.
var readerType = reflect.TypeOf((*io.Reader)(nil)).Elem()

// dropRequestReader makes nc, a connection fasthttp hijacked, read its
// socket directly rather than through the request's read buffer, when that
// buffer holds nothing. With StreamRequestBody on, fasthttp never releases
// a connection's request reader (server.limits' ReadBufferSize, 32 KiB)
// before a hijack, in case a streamed body is still to be read from it, and
// hands it to the hijacked connection: every idle WebSocket kept it for its
// whole life, about 6 KiB of RSS each beside its own small read buffer
// (wsReadBufferSize). An upgrade is a GET without a body, so nothing is
// left to read from that reader but what the client sent after the
// request; when it sent nothing the reader is dropped, otherwise it is
// kept, as those bytes are the WebSocket's. It reports whether it dropped
// the reader; it leaves any connection it does not recognise as it is.
// It must run before anything reads nc.
func dropRequestReader(nc net.Conn) bool {
	raw, ok := nc.(interface{ UnsafeConn() net.Conn })
	if !ok {
		return false
	}
	v := reflect.ValueOf(nc)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return false
	}
	f := v.Elem().FieldByName("r")
	if !f.IsValid() || f.Type() != readerType {
		return false
	}
	r := readerField(f)
	br, ok := (*r).(*bufio.Reader)
	conn := raw.UnsafeConn()
	if !ok || conn == nil || br.Buffered() > 0 {
		return false
	}
	// Bytes the client sent after the request are moved out of the
	// buffer into a reader put in front of the connection (fasthttp's
	// detachReader): only a buffer reading the connection itself holds
	// nothing of the WebSocket's.
	rd := reflect.ValueOf(br).Elem().FieldByName("rd")
	if !rd.IsValid() || rd.Type() != readerType || *readerField(rd) != conn {
		return false
	}
	*r = conn
	recycleReader(v.Elem().FieldByName("s"), br)
	return true
}

// recycleReader puts br back into the reader pool of fasthttp's server,
// the pointer field s, where fasthttp itself returns the readers of
// requests that are not hijacked. Left to the collector instead, every
// upgrade would allocate a new 32 KiB reader, and a burst of connections
// leave the heap (and RSS) grown by garbage the runtime is slow to give back.
func recycleReader(s reflect.Value, br *bufio.Reader) {
	if !s.IsValid() || s.Kind() != reflect.Pointer || s.Type().Elem().Kind() != reflect.Struct || s.IsNil() {
		return
	}
	pool := s.Elem().FieldByName("readerPool")
	if !pool.IsValid() || pool.Type() != reflect.TypeOf(sync.Pool{}) {
		return
	}
	br.Reset(nil) // holds no connection while pooled; fasthttp resets it on reuse
	(*sync.Pool)(unsafe.Pointer(pool.UnsafeAddr())).Put(br)
}

// readerField is the io.Reader field f of an addressable struct: reflect
// reads an unexported field but neither returns nor sets its value.
func readerField(f reflect.Value) *io.Reader {
	return (*io.Reader)(unsafe.Pointer(f.UnsafeAddr()))
}
