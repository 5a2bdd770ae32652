package engineio

import (
	"bufio"
	"bytes"
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
// socket directly rather than through the request's read buffer. With
// StreamRequestBody on, fasthttp never releases a connection's request
// reader (server.limits' ReadBufferSize, 32 KiB) before a hijack, in case
// a streamed body is still to be read from it, and hands it to the
// hijacked connection: every idle WebSocket kept it for its whole life,
// about 6 KiB of RSS each beside its own small read buffer
// (wsReadBufferSize). An upgrade is a GET without a body, so nothing is
// left to read from that reader but what the client sent after the
// request, in the same write: a frame sent without waiting for the 101.
// Those bytes are the WebSocket's; they are copied into a slice of their
// own size, read first (pipelinedReader), and the reader goes back to
// fasthttp either way: kept for them, the whole 32 KiB stayed with the
// connection, 36.7 KiB per idle connection against 2.8 KiB. The copy is
// at most what the client sent and never more than the reader's size, and
// is let go once the WebSocket has read it. It reports whether it dropped
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
	if !ok || conn == nil {
		return false
	}
	pending, ok := requestReaderBytes(br, conn)
	if !ok {
		return false
	}
	if len(pending) == 0 {
		*r = conn
	} else {
		*r = &pipelinedReader{pending: pending, conn: conn, field: r}
	}
	recycleReader(v.Elem().FieldByName("s"), br)
	return true
}

// requestReaderBytes returns a copy of what br, the request's reader,
// holds that the client sent after the request, and reports false when
// br reads anything but conn, which it cannot see the end of. The bytes
// are either in br's buffer or, with ReduceMemoryUsage, moved out of it
// into a reader put in front of the connection (fasthttp's detachReader:
// io.MultiReader of a bytes.Reader and conn).
func requestReaderBytes(br *bufio.Reader, conn net.Conn) ([]byte, bool) {
	rdf := reflect.ValueOf(br).Elem().FieldByName("rd")
	if !rdf.IsValid() || rdf.Type() != readerType {
		return nil, false
	}
	rd := *readerField(rdf)
	if rd == conn {
		if br.Buffered() == 0 {
			return nil, true
		}
		b, err := br.Peek(br.Buffered())
		if err != nil {
			return nil, false
		}
		return bytes.Clone(b), true
	}
	if br.Buffered() > 0 {
		return nil, false
	}
	return detachedBytes(rd, conn)
}

// detachedBytes returns what rd, fasthttp's io.MultiReader of the bytes
// it moved out of the request's reader and conn, has left of those bytes,
// and reports false when rd is anything else.
func detachedBytes(rd io.Reader, conn net.Conn) ([]byte, bool) {
	v := reflect.ValueOf(rd)
	if v.Kind() != reflect.Pointer || v.Type().String() != "*io.multiReader" {
		return nil, false
	}
	f := v.Elem().FieldByName("readers")
	if !f.IsValid() || f.Type() != reflect.TypeOf([]io.Reader(nil)) {
		return nil, false
	}
	readers := *(*[]io.Reader)(unsafe.Pointer(f.UnsafeAddr()))
	if len(readers) == 1 && readers[0] == conn {
		return nil, true
	}
	if len(readers) != 2 || readers[1] != conn {
		return nil, false
	}
	front, ok := readers[0].(*bytes.Reader)
	if !ok {
		return nil, false
	}
	b := make([]byte, front.Len())
	if _, err := io.ReadFull(front, b); err != nil {
		return nil, false
	}
	return b, true
}

// pipelinedReader is what fasthttp's hijacked connection reads in place
// of the request's reader when the client sent bytes behind its upgrade
// request: those bytes, then the connection. Once they are read it makes
// the hijacked connection read the connection directly (field is its
// reader), so that the socket is seen as read with nothing buffered above
// it (readsSocket). Only the goroutine reading the WebSocket uses it.
type pipelinedReader struct {
	pending []byte
	conn    net.Conn
	field   *io.Reader
}

// Read implements io.Reader.
func (r *pipelinedReader) Read(p []byte) (int, error) {
	if len(r.pending) == 0 {
		return r.conn.Read(p)
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	if len(r.pending) == 0 {
		r.pending = nil
		*r.field = r.conn
	}
	return n, nil
}

// pipelinedOf is the pipelinedReader nc, a connection fasthttp hijacked,
// reads through, or nil.
func pipelinedOf(nc net.Conn) *pipelinedReader {
	v := reflect.ValueOf(nc)
	if _, ok := nc.(interface{ UnsafeConn() net.Conn }); !ok || v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("r")
	if !f.IsValid() || f.Type() != readerType {
		return nil
	}
	pr, _ := (*readerField(f)).(*pipelinedReader)
	return pr
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
