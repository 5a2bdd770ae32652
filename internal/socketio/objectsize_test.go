package socketio

import (
	"testing"
	"unsafe"
)

// Every idle connection keeps one client and a Socket per namespace: what
// is added to them is paid by every connection, in steps of the size
// classes (128 bytes here, 144 above).
func TestIdleObjectsStayInTheirSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(Socket{}); size > 128 {
		t.Errorf("Socket is %d bytes, over the 128-byte size class", size)
	}
	if size := unsafe.Sizeof(client{}); size > 128 {
		t.Errorf("client is %d bytes, over the 128-byte size class", size)
	}
}
