package engineio

import "golang.org/x/sys/unix"

// writeNow writes b to pc's socket with one non-blocking call, under the
// runtime's fd lock, and returns how many bytes the socket took: fewer
// than len(b) when its send buffer is full, 0 as well when the write
// failed or the connection's write deadline has passed, which the writer
// goroutine taking over then meets with a blocking write of its own.
func (pc *pollConn) writeNow(b []byte) int {
	var n int
	var werr error
	cerr := pc.rc.Write(func(fd uintptr) bool {
		for {
			n, werr = unix.Write(int(fd), b)
			if werr != unix.EINTR {
				return true
			}
		}
	})
	if cerr != nil || werr != nil || n < 0 {
		return 0
	}
	return n
}
