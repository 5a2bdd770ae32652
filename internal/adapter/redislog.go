package adapter

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RedisLogger passes go-redis's own log lines (a failed dial, a connection
// dropped from the pool) to a slog.Logger, so that they are records of the
// process log rather than raw "redis: ..." lines among its JSON. go-redis
// gives its lines no level; they report trouble, so they are warnings.
type RedisLogger struct {
	logger *slog.Logger
}

// NewRedisLogger returns a RedisLogger that writes to logger.
func NewRedisLogger(logger *slog.Logger) *RedisLogger {
	return &RedisLogger{logger: logger}
}

// Printf implements go-redis's logging interface.
func (l *RedisLogger) Printf(ctx context.Context, format string, args ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	text := strings.TrimSpace(fmt.Sprintf(format, args...))
	text = strings.TrimPrefix(text, "redis: ")
	l.logger.LogAttrs(ctx, slog.LevelWarn, "go-redis: "+text, slog.String("component", "go-redis"))
}

// InstallRedisLogger makes logger the destination of go-redis's log lines.
// go-redis keeps one logger for the whole process, so this is called once,
// by the command that owns the process log, before any client is made.
func InstallRedisLogger(logger *slog.Logger) {
	redis.SetLogger(NewRedisLogger(logger))
}
