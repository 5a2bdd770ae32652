package handlers

import (
	"log/slog"

	"github.com/gatehouse-dev/gatehouse/config"
)

// loggerKey is the config.Options resource key of a handler's logger.
type loggerKey struct{}

// WithLogger returns opts carrying the logger a handler factory hands to
// its handler, for what the handler reports on its own (a backend's
// outage, say) rather than per event.
func WithLogger(opts config.Options, logger *slog.Logger) config.Options {
	return opts.WithResource(loggerKey{}, logger)
}

// loggerOf returns the logger the host shared, or one that discards.
func loggerOf(opts config.Options) *slog.Logger {
	if logger, _ := opts.Resource(loggerKey{}).(*slog.Logger); logger != nil {
		return logger
	}
	return slog.New(slog.DiscardHandler)
}
