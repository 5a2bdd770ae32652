package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// childRunEnv makes the test binary run Main with the arguments after "--"
// (see TestChildRun), so that a test can watch a gateway process's real
// stderr, where go-redis writes unless told otherwise.
const childRunEnv = "GATEHOUSE_CLI_TEST_CHILD"

// TestChildRun is not a test: it is the gateway process of the tests that
// spawn one.
func TestChildRun(t *testing.T) {
	if os.Getenv(childRunEnv) != "1" {
		t.Skip("runs only as a child process")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(Main(context.Background(), args, os.Stdout, os.Stderr))
}

// lockedBuffer is a bytes.Buffer that a process writes while a test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startRedisServer starts a redis-server on a free loopback port and
// returns its port and a function that kills it.
func startRedisServer(t *testing.T) (int, func()) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not found on PATH (CI must install it): %v", err)
		}
		t.Skip("redis-server not installed; apt-get install redis-server to run this test")
	}
	port := freeLoopbackPort(t)
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	var once sync.Once
	kill := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(kill)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			conn.Close()
			return port, kill
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not listen")
		}
	}
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitUntil polls cond every 50ms until it holds or within passes.
func waitUntil(within time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func TestGoRedisLogLinesAreJSONRecordsOfTheProcessLog(t *testing.T) {
	redisPort, killRedis := startRedisServer(t)
	listen := "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t))
	path := writeConfig(t, fmt.Sprintf(`server:
  listen: %q
adapter:
  kind: redis
  redis: {url: "redis://127.0.0.1:%d/0"}
guards:
  shared_limit:
    rate_limit: {key: socket, rate: 1000, burst: 1000, store: redis}
namespaces:
  /chat:
    events:
      ping:
        guards: [shared_limit]
        handler:
          reply: {value: '"pong"'}
`, listen, redisPort))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChildRun$", "--",
		"run", "--config", path, "--log-format", "json")
	cmd.Env = append(os.Environ(), childRunEnv+"=1")
	stderr := &lockedBuffer{}
	cmd.Stderr, cmd.Stdout = stderr, &bytes.Buffer{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()

	ready := func() bool {
		resp, err := http.Get("http://" + listen + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if !waitUntil(10*time.Second, ready) {
		t.Fatalf("the gateway did not become ready; log:\n%s", stderr)
	}

	client, err := sioclient.Dial(ctx, "ws://"+listen+"/socket.io/")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Connect(ctx, "/chat", nil); err != nil {
		t.Fatal(err)
	}

	// Redis goes away: the rate limit's store calls fail, and go-redis
	// logs each dial that fails.
	killRedis()
	logged := waitUntil(10*time.Second, func() bool {
		pingCtx, cancelPing := context.WithTimeout(ctx, 2*time.Second)
		defer cancelPing()
		_, _ = client.EmitWithAck(pingCtx, "/chat", "ping")
		return strings.Contains(stderr.String(), "connection pool")
	})
	if !logged {
		t.Fatalf("go-redis logged nothing about its failed dials; log:\n%s", stderr)
	}

	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	goRedis := 0
	for sc.Scan() {
		line := sc.Text()
		var record map[string]any
		if err := json.Unmarshal([]byte(line), &record); err != nil {
			t.Errorf("a line of the JSON log is not JSON: %q", line)
			continue
		}
		if record["component"] == "go-redis" {
			goRedis++
			if record["level"] != "WARN" {
				t.Errorf("go-redis record at level %v: %q", record["level"], line)
			}
		}
	}
	if goRedis == 0 {
		t.Fatalf("no go-redis record in the log:\n%s", stderr)
	}
}
