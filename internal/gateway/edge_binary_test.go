package gateway

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

// binaryConfig serves /a with the default max_payload (1MB) and a short
// binary_packet_timeout, so that the tests wait about a second for it.
const binaryConfig = `
server:
  limits:
    binary_packet_timeout: 1s
namespaces:
  /a:
    events:
      ping:
        handler: {reply: {value: '"pong"'}}
`

// binaryHeader is the text part of a BINARY_EVENT to /a announcing n
// attachments.
func binaryHeader(n int) string {
	var b strings.Builder
	b.WriteString("45" + strconv.Itoa(n) + "-/a,[\"upload\"")
	for i := range n {
		b.WriteString(`,{"_placeholder":true,"num":` + strconv.Itoa(i) + "}")
	}
	b.WriteString("]")
	return b.String()
}

// honestPings checks that an honest client on the same gateway is answered
// while the attack goes on.
func honestPings(t *testing.T, g *liveGateway) {
	t.Helper()
	honest := g.dial(t, "/a")
	for range 3 {
		if got := ackOf(t, honest, "/a", "ping", nil); errorCode(got) != "" {
			t.Fatalf("honest client refused during the attack: %v", got)
		}
	}
}

func TestBinaryPacketNeverFinishedIsDroppedAtItsDeadlineWithItsSession(t *testing.T) {
	g := startLiveGateway(t, binaryConfig, Registries{})
	sessions := edgeScale(4, 40)
	const parts, partSize = 31, 30 << 10 // 930 KiB sent of 32 announced, under max_payload
	attachment := bytes.Repeat([]byte{'x'}, partSize)
	before := heapInUse()
	attackers := make([]*rawClient, sessions)
	for i := range attackers {
		c := dialRaw(t, g, "/a")
		c.text(binaryHeader(32))
		for range parts {
			c.binary(attachment)
		}
		attackers[i] = c
	}
	sent := time.Now()
	honestPings(t, g)
	// Held meanwhile: what the clients sent, no more, beside the 1 MiB
	// that the process's own buffers (the honest client's session, pools
	// refilled) may take whatever the attack.
	held := heapInUse() - before
	budget := int64(sessions)*(1<<20+256<<10) + 1<<20
	t.Logf("%d sessions each holding an unfinished packet of %d KiB: heap +%s (budget %s)", sessions, parts*partSize>>10, mib(held), mib(budget))
	if held > budget {
		t.Errorf("unfinished packets hold %s, budget %s", mib(held), mib(budget))
	}
	for i, c := range attackers {
		if !c.closed(time.Until(sent.Add(time.Second + limitsWait))) {
			t.Fatalf("session %d still open %v after its packet stopped, binary_packet_timeout is 1s", i, time.Since(sent).Round(time.Millisecond))
		}
	}
	if n := g.gw.LimitRefusals()["binary_packet_timeout"]; n != uint64(sessions) {
		t.Errorf("binary_packet_timeout refusals = %d, want %d", n, sessions)
	}
	// What a closed session may leave until its last buffers are
	// collected is far below the 930 KiB each packet held. The client sees
	// its connection closed before the server has finished closing the
	// session, so the heap is read again for a while before judging.
	left := int64(sessions)*128<<10 + 1<<20
	after := heapInUse() - before
	for deadline := time.Now().Add(2 * time.Second); after > left && time.Now().Before(deadline); after = heapInUse() - before {
		time.Sleep(50 * time.Millisecond)
	}
	if after > left {
		t.Errorf("heap +%s after the sessions closed (budget %s): the unfinished packets were kept", mib(after), mib(left))
	}
}

func TestBinaryPacketOverMaxPayloadClosesItsSessionAtOnce(t *testing.T) {
	g := startLiveGateway(t, binaryConfig, Registries{})
	sessions := edgeScale(4, 40)
	const partSize = 256 << 10 // the fourth one takes the packet past 1MB
	attachment := bytes.Repeat([]byte{'x'}, partSize)
	before := heapInUse()
	attackers := make([]*rawClient, sessions)
	var peak int64
	for i := range attackers {
		c := dialRaw(t, g, "/a")
		c.text(binaryHeader(32))
		// The attacker writes until the server hangs up (or its 8 MiB
		// are out).
		for range 31 {
			if !c.binary(attachment) {
				break
			}
		}
		attackers[i] = c
		peak = max(peak, heapInUse()-before)
	}
	budget := int64(sessions) * (1<<20 + 256<<10)
	t.Logf("%d sessions each sending up to 31 attachments of 256 KiB: heap peak +%s (budget %s)", sessions, mib(peak), mib(budget))
	if peak > budget {
		t.Errorf("oversized packets hold %s, budget %s", mib(peak), mib(budget))
	}
	for i, c := range attackers {
		// At once: well before binary_packet_timeout (1s) would end it.
		if !c.closed(500 * time.Millisecond) {
			t.Fatalf("session %d still open after its packet passed max_payload", i)
		}
	}
	if n := g.gw.LimitRefusals()["max_payload"]; n != uint64(sessions) {
		t.Errorf("max_payload refusals = %d, want %d", n, sessions)
	}
	honestPings(t, g)
}

func TestBinaryPacketWithinMaxPayloadIsStillDelivered(t *testing.T) {
	g := startLiveGateway(t, binaryConfig, Registries{})
	c := dialRaw(t, g, "/a")
	// ping with two attachments of 300 KiB: under 1MB as a whole.
	c.text(`451-/a,7["ping",{"_placeholder":true,"num":0}]`)
	c.binary(bytes.Repeat([]byte{'y'}, 300<<10))
	c.await(t, "the ack of a binary event within max_payload", func(p string) bool { return p == `3/a,7["pong"]` })
	// A second packet after the first finished gets a deadline of its own.
	time.Sleep(700 * time.Millisecond)
	c.text(`451-/a,8["ping",{"_placeholder":true,"num":0}]`)
	time.Sleep(500 * time.Millisecond)
	c.binary([]byte("late but within its own deadline"))
	c.await(t, "the ack of a second binary event", func(p string) bool { return p == `3/a,8["pong"]` })
	if c.closed(0) {
		t.Fatal("session closed although every packet finished in time")
	}
}
