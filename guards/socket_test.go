package guards_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
	"github.com/gatehouse-dev/gatehouse/guards"
)

// alice is an authenticated member of room "dev".
func alice() gatehouse.Socket { return gatehousetest.NewSocket(aliceFields()) }

// aliceFields are alice's, for variations of her.
func aliceFields() gatehousetest.SocketFields {
	return gatehousetest.SocketFields{
		ID: "sock-alice", Namespace: "/chat", Rooms: []string{"dev"}, IP: "10.0.0.1",
		Claims: gatehouse.Claims{"sub": "alice", "username": "Alice", "role": "admin", "tier": 2.0,
			"groups": []any{"eng", "ops"}, "scope": "chat:read chat:write"},
	}
}

// anonymous has no token.
func anonymous() gatehouse.Socket { return gatehousetest.NewSocket(anonymousFields()) }

// anonymousFields are anonymous's, for variations.
func anonymousFields() gatehousetest.SocketFields {
	return gatehousetest.SocketFields{ID: "sock-anon", Namespace: "/chat", IP: "10.0.0.2"}
}

// build runs the registered factory of guardType on src, the options as
// written under the type name on line 1 of gateway.yaml.
func build(t testing.TB, guardType, src string) (guards.Guard, error) {
	t.Helper()
	return gatehousetest.BuildGuard(t, guardType, src, nil)
}

// checkResult compares a guard's answer with the expected code ("" for
// allowed) and message fragment.
func checkResult(t *testing.T, err error, wantCode gatehouse.Code, wantMsg string) *gatehouse.Error {
	t.Helper()
	if wantCode == "" {
		if err != nil {
			t.Fatalf("denied: %v", err)
		}
		return nil
	}
	coded, ok := err.(*gatehouse.Error)
	if !ok {
		t.Fatalf("result = %v (%T), want a *gatehouse.Error with code %s", err, err, wantCode)
	}
	if coded.Code != wantCode || !strings.Contains(coded.Message, wantMsg) {
		t.Fatalf("denial = %s: %q, want %s containing %q", coded.Code, coded.Message, wantCode, wantMsg)
	}
	return coded
}

// wantConfigError checks a factory error: its text and that it is
// positioned at line:col of the options.
func wantConfigError(t *testing.T, err error, wantPos, wantMsg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the guard was built, want an error containing %q", wantMsg)
	}
	msg := err.Error()
	if !strings.Contains(msg, wantMsg) {
		t.Fatalf("error %q does not contain %q", msg, wantMsg)
	}
	if wantPos != "" && !strings.Contains(msg, "gateway.yaml:"+wantPos+":") {
		t.Fatalf("error %q is not at gateway.yaml:%s", msg, wantPos)
	}
}
