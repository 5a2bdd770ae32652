package gateway

import (
	"testing"
	"unsafe"
)

// Most idle authenticated sockets keep a connState for their token's
// expiry: what is added to it is paid by each of them, in steps of the
// size classes (144 bytes here, 160 above).
func TestConnStateStaysInItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(connState{}); size > 144 {
		t.Errorf("connState is %d bytes, over the 144-byte size class", size)
	}
}
