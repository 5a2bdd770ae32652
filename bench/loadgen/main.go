// Command loadgen is the load tool of the benchmarks. It speaks Engine.IO
// v4 / Socket.IO v5 over WebSocket itself (so the client side stays cheap),
// signs its own HS256 tokens, and runs one bounded scenario against a
// server on this machine:
//
//	loadgen connect -target gatehouse -addr 127.0.0.1:8080 -n 2000 -c 50
//	loadgen hold    -target gatehouse -addr 127.0.0.1:8080 -n 10000 -pid 1234
//	loadgen ack     -target gatehouse -addr 127.0.0.1:8080 -n 100 -d 10s [-window 8 | -rate 5000]
//	loadgen fanout  -target gatehouse -addr 127.0.0.1:8080 -n 1000 -d 10s [-rate 100]
//	loadgen report  -in results.jsonl -out docs/benchmarks.md
//
// Each run prints readable lines, then one JSON line with its figures
// (appended to -out as well when given). report turns those lines into
// the Markdown of docs/benchmarks.md. -cpuprofile FILE profiles the load
// tool itself during a scenario: it shares the CPUs with the server under
// test, so its own cost per event is worth watching.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := mainErr(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

const usage = "usage: loadgen connect|hold|ack|fanout|report [flags] (loadgen <command> -h for the flags)"

func mainErr(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "report":
		return reportCommand(args[1:], stdout)
	case "connect", "hold", "ack", "fanout":
		return scenarioCommand(ctx, args[0], args[1:], stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q; %s", args[0], usage)
}

func scenarioCommand(ctx context.Context, scenario string, args []string, stdout io.Writer) error {
	opts := options{scenario: scenario}
	fs := flag.NewFlagSet(scenario, flag.ContinueOnError)
	fs.StringVar(&opts.target, "target", "gatehouse", "name of the server in the output (gatehouse, node, bare)")
	fs.StringVar(&opts.addr, "addr", "127.0.0.1:8080", "server address (loopback only)")
	fs.StringVar(&opts.path, "path", "/socket.io/", "Engine.IO path")
	fs.StringVar(&opts.namespace, "namespace", "/chat", "Socket.IO namespace")
	fs.StringVar(&opts.secret, "secret", os.Getenv("JWT_SECRET"), "HS256 secret of the tokens (default $JWT_SECRET)")
	fs.IntVar(&opts.conns, "n", 100, "connections: N (connect, hold), K (ack), receivers (fanout)")
	fs.IntVar(&opts.concurrency, "c", 50, "connections opened at once")
	fs.DurationVar(&opts.duration, "d", 10*time.Second, "sending time (ack, fanout) or holding time (hold)")
	fs.Float64Var(&opts.rate, "rate", 0, "offered events/s (ack) or messages/s (fanout); 0 is closed loop")
	// One flag, two meanings, a default each: the ack scenario's closed
	// loop keeps one event in flight per connection unless told otherwise,
	// the fan-out's keeps 8 messages in flight in all.
	window, windowHelp := 8, "fanout closed loop: messages in flight (in ack, events in flight per connection, default 1)"
	if scenario == "ack" {
		window, windowHelp = 1, "ack closed loop: events in flight per connection, each acked one replaced at once (in fanout, messages in flight, default 8)"
	}
	fs.IntVar(&opts.window, "window", window, windowHelp)
	fs.IntVar(&opts.pid, "pid", 0, "pid of the server: hold reads its VmRSS, fanout its CPU time")
	fs.IntVar(&opts.senders, "senders", 1, "fanout: connections sending in turn, each its own user")
	fs.Float64Var(&opts.senderRate, "sender-rate", 0, "fanout: messages/s each sender keeps to (a per-user rate limit's rate); 0 is unpaced")
	fs.Float64Var(&opts.senderBurst, "sender-burst", 1, "fanout: the burst of each sender's bucket (the rate limit's burst)")
	fs.StringVar(&opts.variant, "variant", "", "what differs on the server side (recovery, redis, ...), recorded with the figures")
	fs.StringVar(&opts.redisAddr, "redis", "", "fanout: host:port of the redis-server the server uses; its commands per message are counted")
	fs.IntVar(&opts.perSource, "per-source", 20000, "connections per source address (127.0.0.1, then .2, .3...)")
	fs.DurationVar(&opts.timeout, "timeout", 5*time.Minute, "bound on the whole run")
	out := fs.String("out", "", "also append the JSON line to this file")
	cpuProfile := fs.String("cpuprofile", "", "write the load tool's own CPU profile of the run to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if opts.secret == "" {
		return errors.New("no secret: set -secret or JWT_SECRET")
	}
	if err := raiseFileLimit(uint64(opts.conns+max(opts.senders, 1)) + 1024); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	res, runErr := run(ctx, opts)
	printResult(stdout, res)
	if *out != "" {
		if err := appendJSON(*out, res); err != nil {
			return errors.Join(runErr, err)
		}
	}
	return runErr
}

// startCPUProfile profiles the load tool itself, so that its cost per
// event (taken from the server under test on a shared machine) can be
// seen; the returned function ends the profile and closes the file.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: cpu profile:", err)
		}
	}, nil
}

// raiseFileLimit lifts RLIMIT_NOFILE to at least need (up to what the
// system allows): each connection is a file descriptor.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	want := max(need, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}); err == nil {
		return nil
	}
	// Without the privilege to raise the hard limit, take all of it.
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("setrlimit: %w", err)
	}
	if lim.Cur < need {
		return fmt.Errorf("open files limited to %d, %d needed: raise the hard limit (ulimit -Hn)", lim.Cur, need)
	}
	return nil
}

func printResult(w io.Writer, r result) {
	fmt.Fprintf(w, "%s against %s: %d conns", r.Scenario, r.Target, r.Conns)
	if r.Mode != "" {
		fmt.Fprintf(w, ", %s", r.Mode)
		if r.Window > 0 {
			per := ""
			if r.Scenario == "ack" {
				per = " per connection"
			}
			fmt.Fprintf(w, ", %d in flight%s", r.Window, per)
		}
		if r.Offered > 0 {
			fmt.Fprintf(w, " at %.0f/s", r.Offered)
		}
	}
	fmt.Fprintf(w, ", %.1f s\n", r.Seconds)
	switch r.Scenario {
	case "connect", "hold":
		fmt.Fprintf(w, "  connected %d (errors %d), %.0f connections/s, connect p50 %.2f ms p99 %.2f ms\n",
			r.OK, r.Errors, r.Rate, r.P50ms, r.P99ms)
		if r.Scenario == "hold" {
			fmt.Fprintf(w, "  held %d, server RSS %d -> %d KiB, %.2f KiB per connection\n",
				r.Held, r.RSSPre, r.RSSPost, r.RSSConn)
		}
	case "ack":
		fmt.Fprintf(w, "  sent %d, acked %d, lost %d, errors %d: %.0f acks/s, p50 %.2f ms p99 %.2f ms p99.9 %.2f ms\n",
			r.Sent, r.OK, r.Lost, r.Errors, r.Rate, r.P50ms, r.P99ms, r.P999ms)
	case "fanout":
		fmt.Fprintf(w, "  sent %d, delivered %d, lost %d, errors %d: %.0f deliveries/s, p50 %.2f ms p99 %.2f ms p99.9 %.2f ms\n",
			r.Sent, r.OK, r.Lost, r.Errors, r.Rate, r.P50ms, r.P99ms, r.P999ms)
		if r.ServerCPU > 0 && r.Sent > 0 {
			fmt.Fprintf(w, "  server CPU %.2f s: %.1f µs per message, %.0f ns per delivery\n",
				r.ServerCPU, 1e6*r.ServerCPU/float64(r.Sent), 1e9*r.ServerCPU/float64(max(r.OK, 1)))
		}
		if r.ServerWrites > 0 {
			fmt.Fprintf(w, "  server write calls %d: %.2f deliveries per write (every socket's copies counted)\n",
				r.ServerWrites, float64(r.Sent)*float64(r.Conns+r.Senders)/float64(r.ServerWrites))
		}
		if r.RedisDetail != "" {
			fmt.Fprintf(w, "  redis commands per message: %.2f (%s)\n", r.RedisCalls, r.RedisDetail)
		}
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
	line, _ := json.Marshal(r)
	fmt.Fprintf(w, "%s\n", line)
}

func appendJSON(path string, r result) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("results file: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
