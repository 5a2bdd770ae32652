package gatehousetest_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
)

// A guard type declares its options once, as a struct: the gateway decodes
// the YAML into it with positions, and `gatehouse schema` and the reference
// docs are generated from its tags.
func Example_define() {
	type options struct {
		Word string `yaml:"word" doc:"The word refused anywhere in the payload."`
	}
	reg := guards.NewRegistry()
	guards.DefineIn(reg, "no_word", guards.Spec{Doc: "Refuses payloads holding a word.", Shorthand: "word"},
		func(opts config.Options, o options) (guards.Guard, error) {
			if o.Word == "" {
				return nil, opts.FieldError("word", "no_word: word must not be empty")
			}
			return guards.GuardFunc(func(_ context.Context, in *guards.Input) error {
				if string(in.Payload.Raw()) == `"`+o.Word+`"` {
					return gatehouse.Errorf(gatehouse.CodeForbidden, "%s is not allowed", o.Word)
				}
				return nil
			}), nil
		})
	factory, _ := reg.Lookup("no_word")

	for _, src := range []string{`{word: ""}`, `{wrod: x}`} {
		opts, _ := gatehousetest.ParseOptions(src, nil)
		_, err := factory(opts)
		fmt.Println(err)
	}
	opts, _ := gatehousetest.ParseOptions("spam", nil) // the shorthand of {word: spam}
	g, _ := factory(opts)
	s := gatehousetest.NewSocket(gatehousetest.SocketFields{ID: "s1", Namespace: "/chat"})
	fmt.Println(g.Check(context.Background(), gatehousetest.Input(s, "say", `"spam"`)))
	// Output:
	// gateway.yaml:1:17: no_word: word must not be empty
	// gateway.yaml:1:11: unknown key "wrod" (did you mean "word"?)
	// forbidden: spam is not allowed
}

// counter is a handler that holds a resource: a goroutine it must stop.
type counter struct {
	calls chan struct{}
	done  chan struct{}
}

func (c *counter) Handle(context.Context, *handlers.Call) (any, error) {
	c.calls <- struct{}{}
	return map[string]any{"ok": true}, nil
}

// MayBlock answers for this instance: the send above may wait for the
// goroutine, so events of this handler run off the connection's read path.
func (c *counter) MayBlock() bool { return true }

// Close is called once: after a reload replaced the instance and its
// events finished, at shutdown, or when the rest of the config failed to
// build.
func (c *counter) Close(context.Context) error {
	close(c.calls)
	<-c.done
	return nil
}

// A factory gets a host with the options: a logger scoped to the instance,
// the gateway's metrics registry, the cluster publisher, and whether the
// cluster is distributed.
func Example_host() {
	reg := handlers.NewRegistry()
	handlers.DefineIn(reg, "counter", handlers.Spec{Doc: "Counts its calls."},
		func(opts config.Options, _ struct{}) (handlers.Handler, error) {
			logger := opts.Host().Logger()
			c := &counter{calls: make(chan struct{}), done: make(chan struct{})}
			go func() {
				defer close(c.done)
				n := 0
				for range c.calls {
					n++
				}
				logger.Info("counter closed", "calls", n)
			}()
			return c, nil
		})
	factory, _ := reg.Lookup("counter")

	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	host := gatehouse.NewHost(gatehouse.HostOptions{Logger: logger.With("handler", "counter")})
	opts, _ := gatehousetest.ParseOptions("{}", host)
	h, _ := factory(opts)
	s := gatehousetest.NewSocket(gatehousetest.SocketFields{ID: "s1", Namespace: "/chat"})
	reply, _ := h.Handle(context.Background(), gatehousetest.Call(s, "count", `{}`))
	fmt.Println(reply, gatehouse.MayBlock(h))
	_ = h.(gatehouse.Closer).Close(context.Background())
	// Output:
	// map[ok:true] true
	// level=INFO msg="counter closed" handler=counter calls=1
}
