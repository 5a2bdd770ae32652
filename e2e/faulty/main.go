// Command faulty is a gateway binary for the end-to-end tests only: besides
// the built-ins it registers a handler type that panics and a guard type
// that fails without a code, so that the suite can check that such faults
// reach the client as the C2 code "internal" and harm nothing else.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/gatehouse-dev/gatehouse/cli"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
)

func init() {
	handlers.Register("panic", func(opts config.Options) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(context.Context, *handlers.Call) (any, error) {
			panic("faulty handler")
		}), nil
	})
	guards.Register("broken", func(opts config.Options) (guards.Guard, error) {
		return guards.GuardFunc(func(context.Context, *guards.Input) error {
			return errors.New("database password is hunter2") // must never reach the client
		}), nil
	})
}

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
