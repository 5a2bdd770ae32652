package gateway

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/playground"
)

// mountPlayground serves the playground when server.playground.enabled.
// Like the rest of the server section, whether and where it is served stay
// as the gateway started; what it shows (namespaces, events, schemas) and
// the secret it mints with follow reloads.
func (gw *Gateway) mountPlayground(app *fiber.App) error {
	pg := gw.cfg.Server.Playground
	if !pg.Enabled {
		return nil
	}
	err := playground.Mount(app, playground.Options{
		Path:       pg.Path,
		MintTokens: pg.MintTokens,
		Current:    gw.playgroundConfig,
	})
	if err != nil {
		return fmt.Errorf("playground: %w", err)
	}
	if pg.MintTokens && playground.MintRefusal(gw.cfg, true) == "" {
		gw.logger.Warn("the playground mints tokens for any claims to whoever reaches it: keep server.playground.mint_tokens for development",
			"path", pg.Path)
	}
	return nil
}

// playgroundConfig is the config in force and the signer of its auth.jwt.
func (gw *Gateway) playgroundConfig() (*gatewayconfig.Config, playground.Signer) {
	st := gw.state()
	if st.verifier == nil {
		// A nil *auth.Verifier in the interface would not compare to nil.
		return st.cfg, nil
	}
	return st.cfg, st.verifier
}
