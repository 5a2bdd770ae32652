package engineio

import "golang.org/x/sys/unix"

// write is the callback of a non-blocking write of w.b.
func (w *rawWrite) write(fd uintptr) bool {
	for {
		w.n, w.err = unix.Write(int(fd), w.b)
		if w.err != unix.EINTR {
			return true
		}
	}
}

// writeNow writes b to pc's socket with one non-blocking call through w,
// under the socket's lock, and returns how many bytes the socket took:
// fewer than len(b) when its send buffer is full (err nil), 0 when the
// write failed or the connection's write deadline has passed (err says
// which), which the writer goroutine taking over then meets with a
// blocking write of its own.
func (pc *pollConn) writeNow(w *rawWrite, b []byte) (int, error) {
	w.b = b
	cerr := pc.rawWrite(w.fn)
	n, werr := w.n, w.err
	w.b, w.n, w.err = nil, 0, nil
	switch {
	case cerr != nil:
		return 0, cerr
	case werr == unix.EAGAIN:
		return 0, nil
	case werr != nil:
		return 0, werr
	}
	return n, nil
}
