// Package gatehousetest is the test kit of guard and handler authors: build
// a guard or handler from its YAML options exactly as the gateway does, call
// it with a fake socket and a payload, or serve a whole gateway from YAML
// text on a free loopback port for an end-to-end test with a real client.
package gatehousetest

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/sockettest"
)

// stopWait bounds how long a test gateway is given to stop.
const stopWait = 10 * time.Second

// SocketFields are what a fake socket reports: id, namespace, rooms, claims
// and address.
type SocketFields = sockettest.Fields

// NewSocket returns a gatehouse.Socket reporting f; its actions (emit,
// join, broadcast) do nothing and succeed.
func NewSocket(f SocketFields) gatehouse.Socket { return sockettest.New(f) }

// Options returns the YAML text src as the options of a guard or handler
// written on line 1 of gateway.yaml, given host (nil: a host with a
// discarding logger, a registry of its own and no adapter).
func Options(t testing.TB, src string, host gatehouse.Host) config.Options {
	t.Helper()
	return Decl{Host: host}.Options(t, src)
}

// ParseOptions is Options returning the YAML error, for Example functions
// and benchmarks.
func ParseOptions(src string, host gatehouse.Host) (config.Options, error) {
	return Decl{Host: host}.ParseOptions(src)
}

// Guard builds a guard of a registered type from its YAML options, failing
// the test when the factory refuses them; it is closed when the test ends.
func Guard(t testing.TB, typ, src string) guards.Guard {
	t.Helper()
	return Decl{}.Guard(t, typ, src)
}

// BuildGuard is Guard returning the factory's error (positioned at
// gateway.yaml:1) and taking the host to give it.
func BuildGuard(t testing.TB, typ, src string, host gatehouse.Host) (guards.Guard, error) {
	t.Helper()
	return Decl{Host: host}.BuildGuard(t, typ, src)
}

// Handler builds a handler of a registered type from its YAML options,
// failing the test when the factory refuses them; it is closed when the
// test ends.
func Handler(t testing.TB, typ, src string) handlers.Handler {
	t.Helper()
	return Decl{}.Handler(t, typ, src)
}

// BuildHandler is Handler returning the factory's error and taking the host
// to give it.
func BuildHandler(t testing.TB, typ, src string, host gatehouse.Host) (handlers.Handler, error) {
	t.Helper()
	return Decl{Host: host}.BuildHandler(t, typ, src)
}

// closeAtEnd closes v when the test ends, if it is a gatehouse.Closer.
func closeAtEnd(t testing.TB, v any) {
	if c, ok := v.(gatehouse.Closer); ok {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), stopWait)
			defer cancel()
			if err := c.Close(ctx); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
}

// Input is what a guard sees for event (the CONNECT when "") from s with
// payload, a JSON text ("" for none).
func Input(s gatehouse.Socket, event, payload string) *guards.Input {
	p := payloadOf(payload)
	return &guards.Input{Socket: s, Namespace: s.Namespace(), Event: event, Payload: p, Args: argsOf(payload)}
}

// Call is a handler's call of event from s with payload, a JSON text (""
// for none).
func Call(s gatehouse.Socket, event, payload string) *handlers.Call {
	return &handlers.Call{Socket: s, Event: event, Payload: payloadOf(payload), Args: argsOf(payload)}
}

func payloadOf(payload string) *gatehouse.Payload {
	if payload == "" {
		return gatehouse.NewPayload(nil)
	}
	return gatehouse.NewPayload(json.RawMessage(payload))
}

func argsOf(payload string) gatehouse.Args {
	if payload == "" {
		return gatehouse.Args{}
	}
	return gatehouse.Args{Raw: []json.RawMessage{json.RawMessage(payload)}}
}

// Gateway is a whole gateway serving on a loopback port for one test.
type Gateway struct {
	// Addr is host:port.
	Addr string
	// URL is the gateway's base URL, http://host:port, as socket.io-client
	// takes it (with the namespace after it).
	URL string
	// EngineURL is the Engine.IO endpoint, ws://host:port/socket.io/.
	EngineURL string

	gw     *gateway.Gateway
	served chan error
	once   sync.Once
	err    error
}

// Start builds a gateway from YAML text (${VAR} read from the environment;
// server.listen is ignored) with every registered guard and handler type,
// and serves it until the test ends or Stop is called.
func Start(t testing.TB, text string) *Gateway {
	t.Helper()
	cfg := parse(t, text)
	gw, err := gateway.Build(context.Background(), cfg, gateway.Options{})
	if err != nil {
		t.Fatalf("build gateway: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{gw: gw, served: make(chan error, 1), Addr: ln.Addr().String()}
	g.URL = "http://" + g.Addr
	g.EngineURL = "ws://" + g.Addr + cfg.Server.Path
	go func() { g.served <- gw.Serve(ln) }()
	// Serving once the gateway answers HTTP: a Stop before Serve has
	// started would leave it running.
	if err := waitServing(g.URL + "/healthz"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Stop(); err != nil {
			t.Errorf("stop gateway: %v", err)
		}
	})
	return g
}

// Reload applies YAML text as a SIGHUP would: the guards and handlers it
// replaces are closed once the last event running under the replaced
// config is done.
func (g *Gateway) Reload(t testing.TB, text string) {
	t.Helper()
	if _, err := g.gw.Reload(context.Background(), parse(t, text)); err != nil {
		t.Fatalf("reload: %v", err)
	}
}

// Stop shuts the gateway down as SIGTERM does, once.
func (g *Gateway) Stop() error {
	g.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopWait)
		defer cancel()
		g.err = g.gw.Shutdown(ctx)
		if err := <-g.served; err != nil && g.err == nil {
			g.err = err
		}
	})
	return g.err
}

func parse(t testing.TB, text string) *gatewayconfig.Config {
	t.Helper()
	cfg, err := gatewayconfig.Parse("gateway.yaml", []byte(text), nil)
	if err != nil {
		t.Fatalf("gateway.yaml: %v", err)
	}
	return cfg
}

// waitServing waits until url answers an HTTP request.
func waitServing(url string) error {
	deadline := time.Now().Add(stopWait)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			client.CloseIdleConnections()
			return resp.Body.Close()
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}
