package cli

import (
	"fmt"
	"net"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/playground"
)

// printPlayground tells where the playground is, when the config serves
// one, on standard output: the line a newcomer looks for after `run`.
func printPlayground(env *environment, cfg *gatewayconfig.Config, addr net.Addr) {
	pg := cfg.Server.Playground
	if !pg.Enabled {
		return
	}
	fmt.Fprintf(env.stdout, "Playground: %s\n", playground.URL(addr, cfg.Server.TLS != nil, pg.Path))
}
