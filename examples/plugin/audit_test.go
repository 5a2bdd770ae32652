package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
)

func TestAuditAppendsEachPayloadAndClosesItsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	h := gatehousetest.Handler(t, "audit", "{file: "+path+"}")
	s := gatehousetest.NewSocket(gatehousetest.SocketFields{ID: "s1", Namespace: "/chat"})
	for _, payload := range []string{`{"message":"one"}`, `{"message":"two"}`} {
		if _, err := h.Handle(context.Background(), gatehousetest.Call(s, "say", payload)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.(*audit).Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"message\":\"one\"}\n{\"message\":\"two\"}\n"; string(got) != want {
		t.Errorf("file = %q, want %q", got, want)
	}
}

func TestAuditOptionErrorsArePositioned(t *testing.T) {
	_, err := gatehousetest.BuildHandler(t, "audit", "{buffer: 8}", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "gateway.yaml:1:") || !strings.Contains(err.Error(), "file is required") {
		t.Errorf("error = %v, want a positioned 'file is required'", err)
	}
}

const auditGateway = `
namespaces:
  /chat:
    auth: none
    events:
      say:
        handler:
          audit: {file: FILE}
`

// openFiles counts the process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}

func TestHundredReloadsLeaveNoGoroutineOrFileBehind(t *testing.T) {
	text := strings.Replace(auditGateway, "FILE", filepath.Join(t.TempDir(), "audit.log"), 1)
	// A first gateway starts what lives for the process (fasthttp's date
	// clock), so that only what the reloads leave is counted.
	warm := gatehousetest.Start(t, text)
	if err := warm.Stop(); err != nil {
		t.Fatal(err)
	}
	ignore := goleak.IgnoreCurrent()
	files := openFiles(t)

	g := gatehousetest.Start(t, text)
	for i := 0; i < 100; i++ {
		g.Reload(t, text)
	}
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	// fasthttp's worker pool cleaner sees the stop at its next tick, up to
	// 10s later: the server's, not the plugin's.
	goleak.VerifyNone(t, ignore, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"))
	if after := openFiles(t); after > files {
		t.Errorf("%d file descriptors open after 100 reloads and a shutdown, %d before", after, files)
	}
}

func TestBlocklistRefusesABlockedWordWithForbidden(t *testing.T) {
	g := gatehousetest.Guard(t, "blocklist", "{field: message, words: [spam]}")
	s := gatehousetest.NewSocket(gatehousetest.SocketFields{ID: "s1", Namespace: "/chat"})
	tests := []struct {
		payload, code string
	}{
		{`{"message": "hello"}`, ""},
		{`{"message": "Buy SPAM now"}`, "forbidden"},
	}
	for _, tt := range tests {
		err := g.Check(context.Background(), gatehousetest.Input(s, "shout", tt.payload))
		code := ""
		if err != nil {
			code = string(gatehouse.AsError(err).Code)
		}
		if code != tt.code {
			t.Errorf("%s: error %v, want code %q", tt.payload, err, tt.code)
		}
	}
}

// An event that outlives the bound a reload waits for meets a closed audit:
// it is refused with a code, and the process does not crash.
func TestAuditRefusesAnEventAfterItIsClosed(t *testing.T) {
	h := gatehousetest.Handler(t, "audit", "{file: "+filepath.Join(t.TempDir(), "audit.log")+"}")
	if err := h.(gatehouse.Closer).Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := gatehousetest.NewSocket(gatehousetest.SocketFields{ID: "s1", Namespace: "/chat"})
	_, err := h.Handle(context.Background(), gatehousetest.Call(s, "say", `{"message":"late"}`))
	if coded := gatehouse.AsError(err); err == nil || coded.Code != gatehouse.CodeUpstreamError {
		t.Fatalf("error = %v, want an upstream_error", err)
	}
}
