package gatehousetest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/gatehousetest"
	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// Start serves a whole gateway from gateway.yaml text on a free loopback
// port; a real Socket.IO client then talks to it as to a deployed gateway.
// In a test, t is the test's *testing.T and the gateway stops when the test
// ends; here a stand-in plays that part.
func ExampleStart() {
	t := &exampleT{}
	defer t.end()

	g := gatehousetest.Start(t, `
namespaces:
  /chat:
    auth: none
    events:
      hello:
        handler:
          reply: {value: '{"greeting": "hello " + data.name}'}
`)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Any Socket.IO v5 client works (socket.io-client takes g.URL + "/chat");
	// this one is the gateway's own test client.
	c, err := sioclient.Dial(ctx, g.EngineURL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if _, err := c.Connect(ctx, "/chat", nil); err != nil {
		fmt.Println(err)
		return
	}
	ack, err := c.EmitWithAck(ctx, "/chat", "hello", map[string]any{"name": "ada"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(ack[0]))
	// Output: {"greeting":"hello ada"}
}

// exampleT stands in for the *testing.T an Example function lacks: a
// failure panics (failing the example), and the clean-ups run at end.
type exampleT struct {
	testing.TB
	cleanups []func()
}

func (*exampleT) Helper()                           {}
func (*exampleT) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (*exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (*exampleT) Errorf(format string, args ...any) { fmt.Printf(format+"\n", args...) }
func (t *exampleT) Cleanup(f func())                { t.cleanups = append(t.cleanups, f) }

func (t *exampleT) end() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
