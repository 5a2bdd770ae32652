package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/handlers"
)

func init() {
	handlers.Define("audit", handlers.Spec{
		Doc: "Appends each event's payload as a line to a file, written by a goroutine of its own, and acks {ok: true}.",
		Refusals: []handlers.Refusal{
			{Code: "upstream_error", When: "the audit file is closed: the event outlived the bound a reload waits for"},
		},
	}, newAudit)
}

// auditOptions are the YAML options of an audit handler:
//
//	handler:
//	  audit: {file: audit.log}
type auditOptions struct {
	File   string `yaml:"file" doc:"The file lines are appended to, relative to the config file's directory."`
	Buffer int    `yaml:"buffer" doc:"How many lines may wait for the writer before events are dropped and counted." default:"1024"`
}

// audit holds an open file and the goroutine that writes to it: the
// resources a reload must give back, which Close does.
type audit struct {
	file    *os.File
	lines   chan []byte
	done    chan struct{}
	dropped prometheus.Counter
	logger  *slog.Logger
	once    sync.Once
	// mu orders each Handle's send before Close closes lines: an event
	// that outlives a reload's bound meets a closed audit and is refused,
	// instead of sending on a closed channel (a panic).
	mu     sync.RWMutex
	closed bool
}

func newAudit(opts config.Options, o auditOptions) (handlers.Handler, error) {
	if o.File == "" {
		return nil, opts.FieldError("file", "audit: file is required")
	}
	if o.Buffer == 0 {
		o.Buffer = 1024
	}
	if o.Buffer < 0 {
		return nil, opts.FieldError("buffer", "audit: buffer must be above 0")
	}
	path := o.File
	if !filepath.IsAbs(path) {
		path = filepath.Join(opts.Dir(), path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, opts.FieldError("file", "audit: %v", err)
	}
	host := opts.Host()
	a := &audit{file: f, lines: make(chan []byte, o.Buffer), done: make(chan struct{}),
		dropped: droppedCounter(host), logger: host.Logger()}
	go a.write()
	return a, nil
}

// droppedCounter registers the counter of dropped lines with the
// gateway's registry, or finds the one a previous instance registered.
func droppedCounter(host gatehouse.Host) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_audit_dropped_total", Help: "Audit lines dropped because the writer fell behind.",
	})
	if err := host.Metrics().Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector.(prometheus.Counter)
		}
	}
	return c
}

// MayBlock reports that Handle never waits: a line that finds the buffer
// full is dropped and counted.
func (a *audit) MayBlock() bool { return false }

// Handle queues the payload as one line for the writer, or refuses once
// the audit is closed.
func (a *audit) Handle(_ context.Context, call *handlers.Call) (any, error) {
	line := append(append([]byte(nil), call.Payload.Raw()...), '\n')
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return nil, gatehouse.Errorf(gatehouse.CodeUpstreamError, "the audit log is closed")
	}
	select {
	case a.lines <- line:
	default:
		a.dropped.Inc()
	}
	return map[string]any{"ok": true}, nil
}

// write appends lines until Close closes the channel.
func (a *audit) write() {
	defer close(a.done)
	for line := range a.lines {
		if _, err := a.file.Write(line); err != nil {
			a.logger.Warn("audit: write failed", "error", err)
		}
	}
}

// Close stops the writer once it has written what was queued, and closes
// the file. The gateway calls it once the events that could still use the
// handler are done, or once a reload's bound has passed: a Handle after that
// is refused.
func (a *audit) Close(ctx context.Context) error {
	var err error
	a.once.Do(func() {
		a.mu.Lock()
		a.closed = true
		close(a.lines)
		a.mu.Unlock()
		select {
		case <-a.done:
		case <-ctx.Done():
			err = fmt.Errorf("audit: writer still busy: %w", ctx.Err())
		}
		if cerr := a.file.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("audit: %w", cerr)
		}
	})
	return err
}
