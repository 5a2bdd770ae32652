package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// recorderUnderTest is one Recorder with the receiver its deliveries reach.
type recorderUnderTest struct {
	rec  Recorder
	recv *recorder
}

// recorders gives the memory recorder and, on a real redis-server, the
// Redis one (two nodes: deliveries are checked on the other one too).
func recorders(t *testing.T) map[string]func(t *testing.T) (recorderUnderTest, *recorder) {
	return map[string]func(t *testing.T) (recorderUnderTest, *recorder){
		"memory": func(t *testing.T) (recorderUnderTest, *recorder) {
			m := NewMemory(nil)
			recv := &recorder{}
			m.Start(recv)
			return recorderUnderTest{rec: m, recv: recv}, nil
		},
		"redis": func(t *testing.T) (recorderUnderTest, *recorder) {
			srv := startRedis(t)
			recv, other := &recorder{}, &recorder{}
			a := newTestRedis(t, srv.url(), recv, nil)
			b := newTestRedis(t, srv.url(), other, nil)
			eventually(t, 5*time.Second, "both nodes subscribed", func() bool {
				upA, _ := a.State()
				upB, _ := b.State()
				return upA && upB
			})
			return recorderUnderTest{rec: a, recv: recv}, other
		},
	}
}

func recordN(t *testing.T, rec Recorder, namespace string, n int, limits StreamLimits) {
	t.Helper()
	for i := 0; i < n; i++ {
		msg := &Message{Kind: KindBroadcast, Namespace: namespace, Event: "e", Args: []json.RawMessage{json.RawMessage(fmt.Sprint(i))}}
		if err := rec.Record(context.Background(), msg, limits); err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
	}
}

func argsOf(msgs []*Message) string {
	var parts []string
	for _, m := range msgs {
		parts = append(parts, string(m.Args[0]))
	}
	return strings.Join(parts, ",")
}

func TestRecorderDeliversInOrderAndReplaysWhatFollowsAnOffset(t *testing.T) {
	for name, build := range recorders(t) {
		t.Run(name, func(t *testing.T) {
			r, other := build(t)
			ctx := context.Background()
			head, err := r.rec.Head(ctx, "/live")
			if err != nil {
				t.Fatal(err)
			}
			recordN(t, r.rec, "/live", 5, StreamLimits{MaxEntries: 100})
			eventually(t, 5*time.Second, "five deliveries", func() bool { return r.recv.count() == 5 })
			delivered := r.recv.messages()
			if got := argsOf(delivered); got != "0,1,2,3,4" {
				t.Fatalf("delivered %s, want 0,1,2,3,4 in order", got)
			}
			for i := 1; i < len(delivered); i++ {
				if CompareOffsets(delivered[i].Offset, delivered[i-1].Offset) <= 0 {
					t.Fatalf("offsets not increasing: %s then %s", delivered[i-1].Offset, delivered[i].Offset)
				}
			}
			if other != nil {
				eventually(t, 5*time.Second, "the other node's deliveries", func() bool { return other.count() == 5 })
				if got := argsOf(other.messages()); got != "0,1,2,3,4" {
					t.Fatalf("other node delivered %s", got)
				}
			}

			missed, complete, err := r.rec.Since(ctx, "/live", delivered[1].Offset)
			if err != nil || !complete {
				t.Fatalf("Since = complete %v, err %v", complete, err)
			}
			if got := argsOf(missed); got != "2,3,4" {
				t.Fatalf("Since(second) = %s, want 2,3,4", got)
			}
			all, complete, _ := r.rec.Since(ctx, "/live", head)
			if !complete || argsOf(all) != "0,1,2,3,4" {
				t.Fatalf("Since(head before) = %s complete %v", argsOf(all), complete)
			}
			none, complete, _ := r.rec.Since(ctx, "/live", delivered[4].Offset)
			if !complete || len(none) != 0 {
				t.Fatalf("Since(last) = %d packets, complete %v", len(none), complete)
			}
			if _, complete, _ := r.rec.Since(ctx, "/live", "not-an-offset"); complete {
				t.Fatal("a malformed offset is complete")
			}
			if _, complete, _ := r.rec.Since(ctx, "/live", "99999999999999-0"); complete {
				t.Fatal("an offset past the stream is complete")
			}
		})
	}
}

func TestRecorderReportsTrimmedPacketsAsIncomplete(t *testing.T) {
	for name, build := range recorders(t) {
		t.Run(name, func(t *testing.T) {
			r, _ := build(t)
			ctx := context.Background()
			recordN(t, r.rec, "/live", 1, StreamLimits{MaxEntries: 1000})
			eventually(t, 5*time.Second, "first delivery", func() bool { return r.recv.count() == 1 })
			first := r.recv.messages()[0].Offset
			// Redis trims approximately, by macro node (100 entries by
			// default): enough packets to drop the first for certain.
			recordN(t, r.rec, "/live", 400, StreamLimits{MaxEntries: 10})
			if _, complete, err := r.rec.Since(ctx, "/live", first); err != nil || complete {
				t.Fatalf("Since(a trimmed offset) complete = %v, err %v; want incomplete", complete, err)
			}
		})
	}
}

func TestRecorderSessionsAreTakenOnceAndExpire(t *testing.T) {
	for name, build := range recorders(t) {
		t.Run(name, func(t *testing.T) {
			r, _ := build(t)
			ctx := context.Background()
			s := &Session{ID: "sid", PID: "pid-1", Namespace: "/live", Subject: "alice", Rooms: []string{"r1"}, Start: StartOffset, Expires: time.Now().Add(time.Minute)}
			if err := r.rec.SaveSession(ctx, s); err != nil {
				t.Fatal(err)
			}
			got, err := r.rec.TakeSession(ctx, "pid-1")
			if err != nil || got == nil || got.ID != "sid" || got.Subject != "alice" || len(got.Rooms) != 1 {
				t.Fatalf("TakeSession = %+v, %v", got, err)
			}
			if again, _ := r.rec.TakeSession(ctx, "pid-1"); again != nil {
				t.Fatal("a session was taken twice")
			}
			short := &Session{ID: "sid2", PID: "pid-2", Namespace: "/live", Expires: time.Now().Add(300 * time.Millisecond)}
			if err := r.rec.SaveSession(ctx, short); err != nil {
				t.Fatal(err)
			}
			time.Sleep(400 * time.Millisecond)
			if late, _ := r.rec.TakeSession(ctx, "pid-2"); late != nil {
				t.Fatal("an expired session was returned")
			}
		})
	}
}

// An attacker that connects and drops in a loop makes the process keep a
// session each time: the memory recorder keeps at most maxMemorySessions.
func TestMemorySessionsAreBounded(t *testing.T) {
	m := NewMemory(nil)
	ctx := context.Background()
	expires := time.Now().Add(time.Hour)
	for i := 0; i < maxMemorySessions; i++ {
		if err := m.SaveSession(ctx, &Session{PID: fmt.Sprint(i), Expires: expires}); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
	}
	if err := m.SaveSession(ctx, &Session{PID: "one-too-many", Expires: expires}); err != ErrSessionsFull {
		t.Fatalf("SaveSession past the bound = %v, want ErrSessionsFull", err)
	}
}

// The memory stream holds at most MaxBytes of packets, whatever is sent.
func TestMemoryStreamIsBoundedByBytes(t *testing.T) {
	m := NewMemory(nil)
	big := json.RawMessage(`"` + strings.Repeat("x", 64<<10) + `"`)
	for i := 0; i < 200; i++ {
		msg := &Message{Kind: KindBroadcast, Namespace: "/live", Event: "e", Args: []json.RawMessage{big}}
		if err := m.Record(context.Background(), msg, StreamLimits{MaxEntries: 10_000, MaxBytes: 1 << 20}); err != nil {
			t.Fatal(err)
		}
	}
	s := m.rec.stream("/live")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bytes > 1<<20 || len(s.entries) > 16 {
		t.Fatalf("stream holds %d bytes in %d entries, want at most 1 MiB", s.bytes, len(s.entries))
	}
}

func TestHistoryKeepsTheLastMessagesOfARoom(t *testing.T) {
	for name, build := range recorders(t) {
		t.Run(name, func(t *testing.T) {
			r, _ := build(t)
			keeper := r.rec.(HistoryKeeper)
			ctx := context.Background()
			limits := HistoryLimits{Size: 3, TTL: time.Minute, MaxBytes: 1 << 20}
			for i := 1; i <= 5; i++ {
				msg := &Message{Kind: KindBroadcast, Namespace: "/chat", Event: "m", Args: []json.RawMessage{json.RawMessage(fmt.Sprint(i))}}
				if err := keeper.AppendHistory(ctx, "lobby", msg, limits); err != nil {
					t.Fatal(err)
				}
			}
			all, err := keeper.History(ctx, "/chat", "lobby", "", 0, limits)
			if err != nil || argsOf(all) != "3,4,5" {
				t.Fatalf("History = %s, %v; want the last 3: 3,4,5", argsOf(all), err)
			}
			last2, _ := keeper.History(ctx, "/chat", "lobby", "", 2, limits)
			if argsOf(last2) != "4,5" {
				t.Fatalf("History(limit 2) = %s", argsOf(last2))
			}
			after, _ := keeper.History(ctx, "/chat", "lobby", all[0].Offset, 0, limits)
			if argsOf(after) != "4,5" {
				t.Fatalf("History(since first) = %s", argsOf(after))
			}
			if other, _ := keeper.History(ctx, "/chat", "elsewhere", "", 0, limits); len(other) != 0 {
				t.Fatalf("an unknown room has %d messages", len(other))
			}
			if _, err := keeper.History(ctx, "/chat", "lobby", "nonsense", 0, limits); err == nil {
				t.Fatal("a malformed since was accepted")
			}
		})
	}
}

// An attacker who sends to many rooms makes the process keep a history of
// each: every room together stays within MaxBytes, the oldest going first.
func TestMemoryHistoryIsBoundedAcrossRooms(t *testing.T) {
	m := NewMemory(nil)
	ctx := context.Background()
	limits := HistoryLimits{Size: 100, TTL: time.Hour, MaxBytes: 1 << 20}
	big := json.RawMessage(`"` + strings.Repeat("x", 16<<10) + `"`)
	for i := 0; i < 1000; i++ {
		msg := &Message{Kind: KindBroadcast, Namespace: "/chat", Event: "m", Args: []json.RawMessage{big}}
		if err := m.AppendHistory(ctx, fmt.Sprintf("room-%d", i), msg, limits); err != nil {
			t.Fatal(err)
		}
	}
	h := &m.history
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bytes > 1<<20 || len(h.rooms) > 70 {
		t.Fatalf("history holds %d bytes in %d rooms, want at most 1 MiB", h.bytes, len(h.rooms))
	}
	if len(h.fifo) > 2*len(h.rooms)+64 {
		t.Fatalf("the FIFO keeps %d entries for %d rooms", len(h.fifo), len(h.rooms))
	}
	if _, ok := h.rooms[historyKey("/chat", "room-999")]; !ok {
		t.Fatal("the newest room's history was dropped instead of the oldest")
	}
}
