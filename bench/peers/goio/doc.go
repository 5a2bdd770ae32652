// Command goio is the Go peer of the benchmarks: contract C1, the chat of
// the default gateway.yaml, on github.com/zishang520/socket.io v3, a Go port
// of the socket.io server. It implements exactly what the Node baseline
// (bench/peers/node/server.js) implements: the same events, guards, acks and
// error codes, the HS256 check of the CONNECT token (exp required) and the
// per-user rate limit of sendMessage and sendToRoom, and nothing else.
//
//	JWT_SECRET=dev-secret PORT=8060 bench-goio
//
// It reads the variables the Node baseline reads: JWT_SECRET (required),
// PORT (default 8060), HOST (default 127.0.0.1), RATE_LIMIT (tokens per
// second) and RATE_BURST, both defaulting to bench/gateway-bench.yaml's
// 100000. GET /healthz answers "ok" once it listens.
//
// It is a module of its own, so that the gateway's go.mod does not carry
// the socket.io library and its dependencies; bench/run.sh builds it with
// `cd bench/peers/goio && go build -o ../../../bin/bench-goio .`.
package main
