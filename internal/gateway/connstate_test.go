package gateway

import (
	"testing"
	"unsafe"
)

// Most idle authenticated sockets keep a connState for their token's
// expiry: what is added to it is paid by each of them, in steps of the
// size classes (128 bytes here, 144 above).
func TestConnStateStaysInItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(connState{}); size > 128 {
		t.Errorf("connState is %d bytes, over the 128-byte size class", size)
	}
}
