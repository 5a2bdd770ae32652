package reserved

import "testing"

func TestGatewayReservesTheProtocolNamesAndItsOwnEvents(t *testing.T) {
	gw := Gateway()
	for name := range Protocol() {
		if _, ok := gw[name]; !ok {
			t.Errorf("protocol name %q is not reserved by the gateway", name)
		}
	}
	for _, name := range []string{Exception, AuthRefresh, AuthExpiring} {
		if _, ok := gw[name]; !ok {
			t.Errorf("gateway event %q is not reserved", name)
		}
		if _, ok := IsProtocol(name); ok {
			t.Errorf("gateway event %q is reserved by the protocol, which would refuse it on the wire", name)
		}
	}
	if hint, ok := IsProtocol("connect"); !ok || hint == "" {
		t.Errorf("connect: hint %q, reserved %v", hint, ok)
	}
	if len(Names()) != len(gw) {
		t.Errorf("Names lists %d of %d", len(Names()), len(gw))
	}
}
