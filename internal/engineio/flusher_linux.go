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
// under the runtime's fd lock, and returns how many bytes the socket took:
// fewer than len(b) when its send buffer is full, 0 as well when the write
// failed or the connection's write deadline has passed, which the writer
// goroutine taking over then meets with a blocking write of its own.
func (pc *pollConn) writeNow(w *rawWrite, b []byte) int {
	w.b = b
	cerr := pc.rc.Write(w.fn)
	n, werr := w.n, w.err
	w.b, w.n, w.err = nil, 0, nil
	if cerr != nil || werr != nil || n < 0 {
		return 0
	}
	return n
}
