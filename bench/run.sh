#!/usr/bin/env bash
# Runs every benchmark scenario against Gatehouse, the Node socket.io
# baseline, the Go peer (zishang520/socket.io v3) and the bare
# fasthttp/websocket loop, one server at a time, and
# writes docs/benchmarks.md. `make bench` calls it. Sizes are modest by
# default (the whole run takes a few minutes on 2 cores); scale them with
# the variables below, e.g. HOLD_N=100000 make bench.
set -euo pipefail

cd "$(dirname "$0")/.."

: "${CONNECT_N:=10000}"      # connect: connections opened (measured over seconds, not a
                             # fraction of one: at 2,000 a run lasted 0.2-0.7 s and moved by 15 %)
: "${CONNECT_C:=50}"         # connect and hold: connections opened at once
: "${HOLD_N:=9000}"          # hold: idle authenticated connections held; 9,000 fits the
                             # hard limit of 20,000 open files per process on each side
: "${HOLD_FOR:=5s}"          # hold: how long they are held before RSS is read
: "${ACK_K:=100}"            # ack: connections sending whoami
: "${ACK_D:=10s}"            # ack: sending time of each run
: "${ACK_WINDOW:=8}"         # ack, second closed-loop run: events in flight per connection (1 skips the run)
: "${ACK_RATE:=}"            # ack: offered events/s; default half of Node's closed-loop rate
: "${FANOUT_N:=1000}"        # fanout: receivers
: "${FANOUT_D:=10s}"         # fanout: sending time of each run
: "${FANOUT_WINDOW:=8}"      # fanout closed loop: messages in flight
: "${FANOUT_RATE:=}"         # fanout: offered messages/s; default half of Node's closed-loop rate
: "${FANOUT_SENDERS:=200}"   # fanout at C1's limit: senders taking turns, each its own user
: "${RATE_LIMIT:=100000}"    # per-user rate limit of sendMessage, every server
: "${RATE_BURST:=100000}"
: "${C1_RATE:=10}"           # the per-user limit of contract C1 (gateway.yaml), kept in the
: "${C1_BURST:=20}"          # many-sender fan-out, on every server
: "${REDIS_PORT:=18079}"     # redis-server started for the Redis runs (skipped without one)
: "${REDIS_MSGS:=50}"        # Redis runs: messages/s for 4 s, to 100 receivers
: "${BENCH_OUT:=docs/benchmarks.md}"
: "${GO:=go}"
export JWT_SECRET="${JWT_SECRET:-bench-secret-not-for-production}" RATE_LIMIT RATE_BURST

: "${PORT_GATEHOUSE:=18080}" "${PORT_NODE:=18090}" "${PORT_GO:=18060}" "${PORT_BARE:=18070}" # the servers' ports
work=$(mktemp -d)
results="$work/results.jsonl"
commands="$work/commands.sh"
server_pid="" redis_pid=""

cleanup() {
	if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	if [[ -n "$redis_pid" ]]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# Every connection is a file descriptor on both sides: raise the limit for
# this shell and so for the servers it starts (the load tool raises its own).
ulimit -Hn 1048576 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

note() { printf '%s\n' "$*" >>"$commands"; }

# By default the server under test may use both CPUs, as the targets are
# stated for this 2-core machine; the load tool shares them. BENCH_PIN=1
# gives the server CPU 0 and the load tool CPU 1 (taskset, util-linux), for
# every server alike: Go then sizes GOMAXPROCS to one, like Node's single
# JavaScript thread, and the load tool no longer takes the server's cycles.
# The report says which was used.
: "${BENCH_PIN:=0}"
PIN_SERVER=() PIN_LOAD=()
if [[ "$BENCH_PIN" == 1 ]] && command -v taskset >/dev/null 2>&1 && [[ "$(nproc)" -ge 2 ]]; then
	PIN_SERVER=(taskset -c 0) PIN_LOAD=(taskset -c 1)
	export BENCH_PINNING="server pinned to CPU 0 and load tool to CPU 1 (BENCH_PIN=1, taskset)"
else
	[[ "$BENCH_PIN" == 1 ]] && echo "taskset missing or fewer than 2 CPUs: not pinned" >&2
	export BENCH_PINNING="not pinned: server and load tool share the $(nproc) CPUs (BENCH_PIN=1 pins them)"
fi
note "# bench/run.sh, $(date -u +%Y-%m-%dT%H:%MZ); JWT_SECRET, RATE_LIMIT=$RATE_LIMIT and RATE_BURST=$RATE_BURST in the environment of every command"
note "ulimit -n $(ulimit -n)"

echo "== build"
$GO build -o bin/gatehouse ./cmd/gatehouse
$GO build -o bin/loadgen ./bench/loadgen
$GO build -o bin/bench-bare ./bench/peers/bare
# The Go peer is a module of its own (bench/peers/goio/go.mod), so that
# the gateway's go.mod does not carry the socket.io library.
(cd bench/peers/goio && $GO build -o ../../../bin/bench-goio .)
(cd bench/peers/node && npm ci --no-audit --no-fund --silent)
note "go build -o bin/gatehouse ./cmd/gatehouse && go build -o bin/loadgen ./bench/loadgen && go build -o bin/bench-bare ./bench/peers/bare"
note "(cd bench/peers/goio && go build -o ../../../bin/bench-goio .)"
note "(cd bench/peers/node && npm ci)"

# start_server NAME PORT COMMAND...: starts one server and waits for /healthz.
start_server() {
	local name=$1 port=$2
	shift 2
	note "${PIN_SERVER[*]:+${PIN_SERVER[*]} }$* &   # $name"
	"${PIN_SERVER[@]}" "$@" >"$work/$name.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		if curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then return 0; fi
		if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/$name.log" >&2; echo "$name did not start" >&2; exit 1; fi
		sleep 0.1
	done
	echo "$name did not answer on :$port" >&2
	exit 1
}

stop_server() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
	note "kill %1"
}

# load SCENARIO TARGET PORT FLAGS...: one run of the load tool.
load() {
	local scenario=$1 target=$2 port=$3
	shift 3
	note "${PIN_LOAD[*]:+${PIN_LOAD[*]} }bin/loadgen $scenario -target $target -addr 127.0.0.1:$port $*"
	"${PIN_LOAD[@]}" bin/loadgen "$scenario" -target "$target" -addr "127.0.0.1:$port" -out "$results" "$@" ||
		echo "($scenario against $target failed; recorded)" >&2
	sleep 1 # let the server settle between runs
}

# figure SCENARIO MODE TARGET FIELD [WINDOW]: a number from a recorded run,
# the one with WINDOW in flight if given.
figure() {
	grep "\"scenario\":\"$1\",\"target\":\"$3\",\"mode\":\"$2\"" "$results" |
		grep "\"window\":${5:-[0-9]*}," | tail -n1 |
		sed -n "s/.*\"$4\":\([0-9.e+-]*\).*/\1/p"
}

# many_senders TARGET PORT [FLAGS...]: the fan-out where FANOUT_SENDERS
# senders, each its own user and each kept to C1's limit, take turns
# broadcasting to FANOUT_N receivers; the server runs with C1's limit.
many_senders() {
	local target=$1 port=$2
	shift 2
	load fanout "$target" "$port" -n "$FANOUT_N" -d "$FANOUT_D" -window "$FANOUT_WINDOW" \
		-senders "$FANOUT_SENDERS" -sender-rate "$C1_RATE" -sender-burst "$C1_BURST" -pid "$server_pid" "$@"
}

# variant_config NAME: bench/gateway-bench.yaml with recovery on /chat
# (recovery), on the Redis adapter (redis), or both (redis+recovery),
# written to $work/NAME.yaml.
variant_config() {
	local out="$work/$1.yaml"
	awk -v recovery="$([[ $1 == *recovery* ]] && echo 1)" '
		{ print }
		recovery && $0 == "  /chat:" { print "    recovery: {max_disconnection: 2m}" }
	' bench/gateway-bench.yaml >"$out"
	if [[ $1 == redis* ]]; then
		printf '\nadapter:\n  kind: redis\n  redis: {url: "redis://127.0.0.1:%s/0", prefix: bench}\n' "$REDIS_PORT" >>"$out"
	fi
	note "# $out: bench/gateway-bench.yaml$([[ $1 == *recovery* ]] && echo ' with recovery: {max_disconnection: 2m} on /chat')$([[ $1 == redis* ]] && echo " and adapter: {kind: redis} on redis-server :$REDIS_PORT")"
	echo "$out"
}

closed_loop_runs() {
	local target=$1 port=$2
	load ack "$target" "$port" -n "$ACK_K" -d "$ACK_D" -window 1
	# The same with ACK_WINDOW events in flight per connection: what a
	# client that does not wait for each ack before the next event gets.
	if [[ "$ACK_WINDOW" != 1 ]]; then
		load ack "$target" "$port" -n "$ACK_K" -d "$ACK_D" -window "$ACK_WINDOW"
	fi
	load fanout "$target" "$port" -n "$FANOUT_N" -d "$FANOUT_D" -window "$FANOUT_WINDOW" -pid "$server_pid"
}

offered_runs() {
	local target=$1 port=$2
	load ack "$target" "$port" -n "$ACK_K" -d "$ACK_D" -rate "$ACK_RATE"
	load fanout "$target" "$port" -n "$FANOUT_N" -d "$FANOUT_D" -rate "$FANOUT_RATE"
}

echo "== node"
start_server node "$PORT_NODE" env PORT="$PORT_NODE" node bench/peers/node/server.js
load hold node "$PORT_NODE" -n "$HOLD_N" -c "$CONNECT_C" -d "$HOLD_FOR" -pid "$server_pid"
load connect node "$PORT_NODE" -n "$CONNECT_N" -c "$CONNECT_C"
closed_loop_runs node "$PORT_NODE"
# The offered loads are half of what Node sustains closed loop, unless set.
if [[ -z "$ACK_RATE" ]]; then
	ACK_RATE=$(awk -v r="$(figure ack closed node rate_per_s 1)" 'BEGIN { v = int(r / 2); print (v > 0 ? v : 1000) }')
fi
if [[ -z "$FANOUT_RATE" ]]; then
	FANOUT_RATE=$(awk -v r="$(figure fanout closed node rate_per_s "$FANOUT_WINDOW")" -v n="$FANOUT_N" 'BEGIN { v = int(r / n / 2); print (v > 0 ? v : 10) }')
fi
echo "offered loads: ack $ACK_RATE events/s, fanout $FANOUT_RATE messages/s"
offered_runs node "$PORT_NODE"
stop_server
start_server node "$PORT_NODE" env PORT="$PORT_NODE" RATE_LIMIT="$C1_RATE" RATE_BURST="$C1_BURST" node bench/peers/node/server.js
many_senders node "$PORT_NODE"
stop_server

# peer_runs TARGET PORT COMMAND...: the runs of a socket.io peer, as
# Node's above, at the same offered loads; COMMAND starts it on PORT.
peer_runs() {
	local target=$1 port=$2
	shift 2
	start_server "$target" "$port" env PORT="$port" "$@"
	load hold "$target" "$port" -n "$HOLD_N" -c "$CONNECT_C" -d "$HOLD_FOR" -pid "$server_pid"
	load connect "$target" "$port" -n "$CONNECT_N" -c "$CONNECT_C"
	closed_loop_runs "$target" "$port"
	offered_runs "$target" "$port"
	stop_server
	start_server "$target" "$port" env PORT="$port" RATE_LIMIT="$C1_RATE" RATE_BURST="$C1_BURST" "$@"
	many_senders "$target" "$port"
	stop_server
}

echo "== go peer (zishang520/socket.io v3)"
peer_runs go "$PORT_GO" bin/bench-goio

echo "== gatehouse"
start_server gatehouse "$PORT_GATEHOUSE" bin/gatehouse run --config bench/gateway-bench.yaml --listen "127.0.0.1:$PORT_GATEHOUSE" --log-level warn
load hold gatehouse "$PORT_GATEHOUSE" -n "$HOLD_N" -c "$CONNECT_C" -d "$HOLD_FOR" -pid "$server_pid"
load connect gatehouse "$PORT_GATEHOUSE" -n "$CONNECT_N" -c "$CONNECT_C"
closed_loop_runs gatehouse "$PORT_GATEHOUSE"
offered_runs gatehouse "$PORT_GATEHOUSE"
stop_server
start_server gatehouse "$PORT_GATEHOUSE" env RATE_LIMIT="$C1_RATE" RATE_BURST="$C1_BURST" bin/gatehouse run --config bench/gateway-bench.yaml --listen "127.0.0.1:$PORT_GATEHOUSE" --log-level warn
many_senders gatehouse "$PORT_GATEHOUSE"
stop_server

echo "== gatehouse, recovery on"
# The same fan-outs with connection state recovery on /chat: the cost per
# message of recording every broadcast, beside the runs above.
config=$(variant_config recovery)
start_server gatehouse "$PORT_GATEHOUSE" bin/gatehouse run --config "$config" --listen "127.0.0.1:$PORT_GATEHOUSE" --log-level warn
load fanout gatehouse "$PORT_GATEHOUSE" -n "$FANOUT_N" -d "$FANOUT_D" -window "$FANOUT_WINDOW" -pid "$server_pid" -variant recovery
stop_server
start_server gatehouse "$PORT_GATEHOUSE" env RATE_LIMIT="$C1_RATE" RATE_BURST="$C1_BURST" bin/gatehouse run --config "$config" --listen "127.0.0.1:$PORT_GATEHOUSE" --log-level warn
many_senders gatehouse "$PORT_GATEHOUSE" -variant recovery
stop_server

# Redis commands per broadcast, recovery off and on: the gateway on the
# Redis adapter against a redis-server of its own, INFO commandstats read
# before and after a known number of messages.
if command -v redis-server >/dev/null 2>&1; then
	echo "== gatehouse on redis-server"
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
	redis_pid=$!
	note "redis-server --port $REDIS_PORT --bind 127.0.0.1 --save '' --appendonly no &"
	for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
	for variant in redis redis+recovery; do
		config=$(variant_config "$variant")
		start_server gatehouse "$PORT_GATEHOUSE" bin/gatehouse run --config "$config" --listen "127.0.0.1:$PORT_GATEHOUSE" --log-level warn
		load fanout gatehouse "$PORT_GATEHOUSE" -n 100 -d 4s -rate "$REDIS_MSGS" -pid "$server_pid" -redis "127.0.0.1:$REDIS_PORT" -variant "$variant"
		stop_server
	done
	kill "$redis_pid" 2>/dev/null || true
	wait "$redis_pid" 2>/dev/null || true
	redis_pid=""
else
	echo "redis-server not found: the Redis runs are skipped" >&2
fi

echo "== bare"
start_server bare "$PORT_BARE" bin/bench-bare --listen "127.0.0.1:$PORT_BARE"
closed_loop_runs bare "$PORT_BARE"
offered_runs bare "$PORT_BARE"
stop_server

note "bin/loadgen report -in results.jsonl -out $BENCH_OUT -commands commands.sh -notes bench/analysis.md -pinning \"$BENCH_PINNING\""
bin/loadgen report -in "$results" -out "$BENCH_OUT" -commands "$commands" -notes bench/analysis.md -pinning "$BENCH_PINNING"
# Kept so that the report can be rewritten without a new run.
cp "$results" bin/bench-results.jsonl
cp "$commands" bin/bench-commands.sh
echo "== wrote $BENCH_OUT (raw results in bin/bench-results.jsonl)"
