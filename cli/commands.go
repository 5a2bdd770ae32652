package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/auth"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

const defaultConfigPath = "gateway.yaml"

func runCommand(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "run", "[--config gateway.yaml] [--listen host:port]")
	configPath := fs.String("config", defaultConfigPath, "config file")
	listen := fs.String("listen", "", "listen address, overriding server.listen")
	logFormat := fs.String("log-format", "auto", "log format: auto (text on a terminal, JSON otherwise), text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	watch := fs.Bool("watch", false, "reload the config when its file changes (SIGHUP always reloads)")
	pprofAddr := fs.String("pprof", "", "serve Go's profiling endpoints (/debug/pprof/) on this host:port, a listener of its own; off by default")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(env.stderr, *logFormat, *logLevel)
	if err != nil {
		return usageError{err.Error()}
	}
	// go-redis logs through one process-wide logger, by default raw lines
	// on stderr; they join the process log instead.
	adapter.InstallRedisLogger(logger)
	cfg, err := gatewayconfig.Load(*configPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	gw, err := gateway.Build(ctx, cfg, gateway.Options{Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
	}
	printPlayground(env, cfg, ln.Addr())

	if *pprofAddr != "" {
		stopProfiling, err := serveProfiling(*pprofAddr, logger)
		if err != nil {
			_ = ln.Close()
			return err
		}
		defer stopProfiling()
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	reloads := make(chan os.Signal, 1)
	signal.Notify(reloads, syscall.SIGHUP)
	defer signal.Stop(reloads)
	var changes <-chan struct{}
	if *watch {
		changes = watchFile(ctx, *configPath, time.Second)
	}
	served := make(chan error, 1)
	go func() { served <- gw.Serve(ln) }()
	for running := true; running; {
		select {
		case err := <-served:
			return err
		case <-reloads:
			reload(ctx, logger, gw, *configPath, *listen, "SIGHUP")
		case <-changes:
			reload(ctx, logger, gw, *configPath, *listen, "file changed")
		case <-ctx.Done():
			running = false
		}
	}
	grace := cfg.Server.ShutdownGrace.D()
	logger.Info("shutting down", "grace", grace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := gw.Shutdown(shutdownCtx); err != nil {
		logger.Warn("shutdown incomplete", "error", err)
	}
	if err := <-served; err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}

// reload re-reads the config and applies it; a config with errors changes
// nothing and its errors are logged with their positions.
func reload(ctx context.Context, logger *slog.Logger, gw *gateway.Gateway, path, listen, trigger string) {
	warnings, err := gw.ReloadFile(ctx, path, func(cfg *gatewayconfig.Config) {
		if listen != "" {
			cfg.Server.Listen = listen
		}
	})
	for _, w := range warnings {
		logger.Warn("reload: "+w, "file", path)
	}
	if err != nil {
		var list config.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				logger.Error("reload refused: config error", "trigger", trigger, "error", e.Error())
			}
		} else {
			logger.Error("reload refused", "trigger", trigger, "file", path, "error", err)
		}
		return
	}
	logger.Info("reload applied", "trigger", trigger, "file", path)
}

// watchFile signals when the file's size or modification time changes,
// checking every interval until ctx ends. Polling needs no extra dependency
// and sees a file replaced by an editor or a config-management tool alike.
func watchFile(ctx context.Context, path string, interval time.Duration) <-chan struct{} {
	changes := make(chan struct{}, 1)
	stamp := func() (time.Time, int64) {
		info, err := os.Stat(path)
		if err != nil {
			return time.Time{}, -1
		}
		return info.ModTime(), info.Size()
	}
	go func() {
		lastMod, lastSize := stamp()
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			mod, size := stamp()
			if mod.Equal(lastMod) && size == lastSize {
				continue
			}
			lastMod, lastSize = mod, size
			select {
			case changes <- struct{}{}:
			default:
			}
		}
	}()
	return changes
}

func validateCommand(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "validate", "[--config gateway.yaml]")
	configPath := fs.String("config", defaultConfigPath, "config file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// Report every error at once: those of loading, and those of building
	// what did load (guard and handler types, options, expressions, keys,
	// certificate), each part built even when another failed.
	cfg, loadErr := gatewayconfig.LoadAll(*configPath)
	var errs config.ErrorList
	if loadErr != nil {
		errs = errs.Append(config.Pos{File: *configPath}, loadErr)
	}
	if cfg != nil {
		buildErrs := config.ErrorList{}.Append(config.Pos{File: *configPath}, gateway.Check(ctx, cfg, gateway.Options{}))
		errs = append(errs, notAt(buildErrs, errs)...)
	}
	if len(errs) > 0 {
		return errs.Sorted()
	}
	fmt.Fprintln(env.stdout, "ok")
	return nil
}

// notAt keeps the errors of later that are not at the position of an error
// of earlier: a value the loader refused (a Redis URL, say) would otherwise be
// reported again, in other words, when the gateway builds from it.
func notAt(later, earlier config.ErrorList) config.ErrorList {
	failed := make(map[config.Pos]bool, len(earlier))
	for _, e := range earlier {
		failed[e.Pos] = true
	}
	var out config.ErrorList
	for _, e := range later {
		if !failed[e.Pos] {
			out = append(out, e)
		}
	}
	return out
}

// claimFlag collects repeated --claim key=value flags.
type claimFlag map[string]any

func (c claimFlag) String() string { return "" }

func (c claimFlag) Set(s string) error {
	key, value, ok := strings.Cut(s, "=")
	if !ok || key == "" {
		return fmt.Errorf("expected key=value, got %q", s)
	}
	if strings.Contains(value, ",") {
		// role=a,b gives a list, as for scopes.
		c[key] = strings.Split(value, ",")
		return nil
	}
	c[key] = value
	return nil
}

func tokenCommand(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "token", "--sub ID [--claim key=value ...] [--ttl 1h] [--config gateway.yaml]")
	configPath := fs.String("config", defaultConfigPath, "config file whose auth.jwt secret signs the token")
	sub := fs.String("sub", "", "subject (user id); required")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	claims := claimFlag{}
	fs.Var(claims, "claim", "extra claim as key=value (repeatable; a,b gives a list)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *sub == "" {
		return usageError{"--sub is required"}
	}
	if *ttl <= 0 {
		return usageError{"--ttl must be positive"}
	}
	cfg, err := gatewayconfig.Load(*configPath)
	if err != nil {
		return err
	}
	if cfg.Auth.JWT == nil {
		return fmt.Errorf("%s: auth.jwt is not configured, so the gateway verifies no tokens", cfg.File)
	}
	verifier, err := auth.NewVerifier(ctx, cfg.Auth.JWT, slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Errorf("%s: auth.jwt: %w", cfg.File, err)
	}
	claims["sub"] = *sub
	token, err := verifier.Sign(claims, *ttl)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.File, err)
	}
	fmt.Fprintln(env.stdout, token)
	return nil
}

// newLogger builds the process logger: text on a terminal, JSON otherwise,
// unless the format is forced.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: expected debug, info, warn or error, got %q", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "auto":
		if isTerminal(w) {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, errors.New("--log-format: expected auto, text or json, got " + fmt.Sprintf("%q", format))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// serveProfiling serves net/http/pprof on addr, apart from the gateway's
// listener so that profiles are never exposed to clients by accident; bind
// it to a loopback or private address. It returns the function that stops
// it.
func serveProfiling(addr string, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("pprof server stopped", "error", err)
		}
	}()
	logger.Info("profiling endpoints", "addr", ln.Addr().String(), "path", "/debug/pprof/")
	return func() { _ = srv.Close() }, nil
}
