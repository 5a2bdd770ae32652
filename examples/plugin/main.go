// Command gatehouse-plugin is Gatehouse with two plugins of its own: a guard
// type "blocklist" and a handler type "shout". It is the whole recipe for a
// custom binary: register the types in init(), then hand over to cli.Main,
// which gives the binary every gatehouse command (run, validate, token, ...).
package main

import (
	"context"
	"os"

	"github.com/gatehouse-dev/gatehouse/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
