// Command gatehouse runs and checks a Gatehouse gateway; see cli for the
// commands. Plugins build their own binary the same way, importing their
// guard and handler packages for their init() registrations.
package main

import (
	"context"
	"os"

	"github.com/gatehouse-dev/gatehouse/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
