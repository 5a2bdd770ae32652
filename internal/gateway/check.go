package gateway

import (
	"context"
	"log/slog"

	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/auth"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// Check builds every part of a gateway that cfg determines, with the same
// functions as Build (the adapter, every guard, handler and expression, the
// JWT keys, the TLS certificate), and releases them without serving. Unlike
// Build it goes on past a part that fails, so that `gatehouse validate`
// reports the errors of every part at once. Errors are a gatewayconfig.ErrorList.
func Check(ctx context.Context, cfg *gatewayconfig.Config, opts Options) error {
	if opts.Registries.Guards == nil || opts.Registries.Handlers == nil {
		opts.Registries = DefaultRegistries()
	}
	logger := slog.New(slog.DiscardHandler)
	var errs gatewayconfig.ErrorList
	adp, err := newAdapter(cfg.Adapter, logger, nil)
	if err != nil {
		errs = errs.Append(cfg.PosOf("adapter.redis.url"), err)
		// The guards that would share the adapter's Redis are still built,
		// against no Redis, so that their own mistakes show.
		adp = adapter.NewMemory(logger)
	}
	defer func() { _ = adp.Close() }()
	if _, err := buildNamespaces(cfg, opts.Registries, factoryResources(adp, logger)); err != nil {
		errs = errs.Append(gatewayconfig.Pos{File: cfg.File}, err)
	}
	if cfg.Auth.JWT != nil {
		errs = errs.Append(gatewayconfig.Pos{File: cfg.File}, checkVerifier(ctx, cfg))
	}
	if cfg.Server.TLS != nil {
		if _, err := loadCertificate(cfg); err != nil {
			errs = errs.Append(cfg.PosOf("server.tls"), err)
		}
	}
	return errs.Err()
}

// checkVerifier builds the JWT verifier as Build does (reading key files,
// fetching the JWKS) and stops its background refresh.
func checkVerifier(ctx context.Context, cfg *gatewayconfig.Config) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if _, err := auth.NewVerifier(ctx, cfg.Auth.JWT, slog.New(slog.DiscardHandler)); err != nil {
		return gatewayconfig.Errorf(cfg.PosOf("auth.jwt"), "auth.jwt: %v", err)
	}
	return nil
}
