package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const slowlorisConfig = `
server:
  limits:
    handshake_timeout: 300ms
namespaces:
  /chat:
    events:
      ping:
        handler: {reply: {value: '"pong"'}}
`

// slowRequest sends the request line, then a header byte every interval,
// and returns how long the server let the connection live.
func slowRequest(t *testing.T, addr string, interval time.Duration) (time.Duration, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	started := time.Now()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_, _ = io.Copy(io.Discard, conn)
	}()
	header := "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200)
	if _, err := io.WriteString(conn, header[:50]); err != nil {
		return 0, err
	}
	for i := 50; i < len(header); i++ {
		select {
		case <-closed:
			return time.Since(started), nil
		case <-time.After(interval):
		}
		if _, err := conn.Write([]byte{header[i]}); err != nil {
			<-closed
			return time.Since(started), nil
		}
	}
	t.Errorf("the server read the whole slow header (%d bytes over %s)", len(header), time.Since(started))
	return time.Since(started), nil
}

func TestSlowHandshakesAreCutOffWhileOthersAreServed(t *testing.T) {
	g := startLiveGateway(t, slowlorisConfig, Registries{})
	const slow = 20
	var wg sync.WaitGroup
	lived := make(chan time.Duration, slow+1)
	for range slow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := slowRequest(t, g.addr, 50*time.Millisecond)
			if err != nil {
				t.Error(err)
			}
			lived <- d
		}()
	}
	// One connection that never sends a byte.
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		started := time.Now()
		_ = conn.SetReadDeadline(time.Now().Add(limitsWait))
		_, _ = io.Copy(io.Discard, conn)
		lived <- time.Since(started)
	}()

	// Meanwhile, a real client connects and talks, for longer than the
	// handshake timeout.
	c := g.dial(t, "/chat")
	for range 5 {
		if got := ackOf(t, c, "/chat", "ping", nil); errorCode(got) != "" {
			t.Fatalf("ping while slow clients wait: %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	close(lived)
	for d := range lived {
		// Cut after 300ms; a second leaves room for a busy machine, and
		// is far below the 10s the slow headers would take.
		if d > 1500*time.Millisecond {
			t.Errorf("a slow connection lived %s, want it cut after about 300ms", d)
		}
	}
	if n := g.gw.LimitRefusals()["handshake_timeout"]; n < slow+1 {
		t.Errorf("handshake_timeout refusals = %d, want %d", n, slow+1)
	}
}

func TestLongPollOutlivesTheHandshakeTimeout(t *testing.T) {
	g := startLiveGateway(t, slowlorisConfig, Registries{})
	client := &http.Client{Timeout: limitsWait}
	base := "http://" + g.addr + "/socket.io/?EIO=4&transport=polling"
	get := func(url string) string {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
		}
		return string(body)
	}
	post := func(url, body string) {
		t.Helper()
		resp, err := client.Post(url, "text/plain;charset=UTF-8", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	open := get(base)
	sid := open[strings.Index(open, `"sid":"`)+7:]
	sid = sid[:strings.IndexByte(sid, '"')]
	url := base + "&sid=" + sid
	post(url, "40/chat,")
	if got := get(url); !strings.HasPrefix(got, "40/chat,") {
		t.Fatalf("CONNECT answer %q", got)
	}
	// A long-poll GET held longer than the handshake timeout, answered by
	// the ack of an event posted meanwhile.
	answered := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			answered <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := bufio.NewReader(resp.Body).ReadString(0)
		answered <- body
	}()
	time.Sleep(700 * time.Millisecond)
	post(url, `42/chat,7["ping"]`)
	if got := <-answered; got != `43/chat,7["pong"]` {
		t.Fatalf("held GET answered %q, want the ack", got)
	}
	post(url, "1")
}
