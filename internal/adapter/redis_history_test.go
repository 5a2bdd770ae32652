package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startHistoryRedis is a Redis adapter on a real redis-server, ready to
// keep room histories.
func startHistoryRedis(t testing.TB) *Redis {
	t.Helper()
	srv := startRedis(t)
	r := newTestRedis(t, srv.url(), &recorder{}, nil)
	eventually(t, 5*time.Second, "the adapter connected", func() bool {
		up, _ := r.State()
		return up
	})
	return r
}

// historyAppend is one message sent to a room: its index in the sending
// order is its argument.
type historyAppend struct {
	room string
	size int
}

func appendHistories(t testing.TB, r *Redis, sends []historyAppend, limits HistoryLimits) {
	t.Helper()
	ctx := context.Background()
	for i, s := range sends {
		body := fmt.Sprintf(`"%d %s"`, i, strings.Repeat("x", s.size))
		msg := &Message{Kind: KindBroadcast, Namespace: "/chat", Event: "m", Args: []json.RawMessage{json.RawMessage(body)}}
		if err := r.AppendHistory(ctx, s.room, msg, limits); err != nil {
			t.Fatalf("AppendHistory %d: %v", i, err)
		}
	}
}

// An attacker who sends large messages to many rooms makes Redis keep a
// history of each: every room of the namespace together stays within
// MaxBytes, the oldest messages going first whatever their room, as with
// the Memory adapter; what is kept is exactly the newest messages not
// trimmed by their room's size, and every stream entry has its size
// record and its place in the namespace's order.
func TestRedisHistoryIsBoundedInBytesAcrossRooms(t *testing.T) {
	r := startHistoryRedis(t)
	limits := HistoryLimits{Size: 4, TTL: time.Minute, MaxBytes: 256 << 10}
	var sends []historyAppend
	for i := range 600 {
		room := fmt.Sprintf("room-%d", i%40)
		if i%3 == 0 {
			room = "busy" // trimmed by its size as well
		}
		sends = append(sends, historyAppend{room: room, size: 1<<10 + (i*7919)%(12<<10)})
	}
	appendHistories(t, r, sends, limits)

	kept, total := checkHistoryConsistent(t, r, "test", "/chat", limits)
	if total > limits.MaxBytes || total < limits.MaxBytes-16<<10-historyRoomCost {
		t.Errorf("the namespace's history counts %d bytes, want just under %d", total, limits.MaxBytes)
	}
	// Expected: the messages among the last Size of their room, from the
	// oldest one kept on.
	oldest := slices.Min(kept)
	var want []int
	perRoom := map[string]int{}
	for i := len(sends) - 1; i >= oldest; i-- {
		perRoom[sends[i].room]++
		if perRoom[sends[i].room] <= limits.Size {
			want = append(want, i)
		}
	}
	slices.Sort(want)
	slices.Sort(kept)
	if !slices.Equal(kept, want) {
		t.Errorf("Redis keeps messages %v, want the newest not trimmed by their room: %v", kept, want)
	}
	t.Logf("600 messages to 41 rooms: Redis keeps %d of them, %d bytes (max_bytes %d)", len(kept), total, limits.MaxBytes)
}

// Small messages each to a room of its own cost Redis far more than their
// JSON (a stream's first node is 4 KiB): counted with their bookkeeping,
// what Redis holds stays near max_bytes by its own account (MEMORY USAGE of
// every key), where it held 72 times max_bytes when only the JSON counted.
func TestRedisHistoryOfSmallMessagesToManyRoomsStaysNearMaxBytes(t *testing.T) {
	r := startHistoryRedis(t)
	ctx := context.Background()
	limits := HistoryLimits{Size: 10, TTL: time.Minute, MaxBytes: 256 << 10}
	var sends []historyAppend
	for i := range 8000 {
		sends = append(sends, historyAppend{room: "r" + strconv.Itoa(i), size: 2})
	}
	appendHistories(t, r, sends, limits)
	checkHistoryConsistent(t, r, "test", "/chat", limits)
	keys, err := r.client.Keys(ctx, "test:history*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var usage int64
	for _, key := range keys {
		used, err := r.client.MemoryUsage(ctx, key, 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		usage += used
	}
	bound := limits.MaxBytes + limits.MaxBytes/4
	t.Logf("8000 small messages to 8000 rooms: Redis holds %d keys in %d KiB (bound %d KiB)", len(keys), usage>>10, bound>>10)
	if usage > bound {
		t.Errorf("Redis holds %d KiB of history, want at most %d KiB", usage>>10, bound>>10)
	}
}

// A room whose keys expired leaves its messages in the namespace's order
// until they are trimmed: appends go on, count them until they pass, and
// the history stays bounded and consistent.
func TestRedisHistoryOutlivesARoomThatExpired(t *testing.T) {
	r := startHistoryRedis(t)
	ctx := context.Background()
	limits := HistoryLimits{Size: 10, TTL: time.Minute, MaxBytes: 64 << 10}
	first := []historyAppend{{"gone", 8 << 10}, {"gone", 8 << 10}, {"stays", 8 << 10}}
	appendHistories(t, r, first, limits)
	if err := r.client.Del(ctx, "test:history:/chat:gone", "test:history-sizes:/chat:gone").Err(); err != nil {
		t.Fatal(err)
	}
	var more []historyAppend
	for range 20 {
		more = append(more, historyAppend{"later", 4 << 10})
	}
	appendHistories(t, r, more, limits)
	// the room recreated after its keys went is a new room
	appendHistories(t, r, []historyAppend{{"gone", 1 << 10}}, limits)
	_, total := checkHistoryConsistent(t, r, "test", "/chat", limits)
	if total > limits.MaxBytes {
		t.Errorf("the namespace's history counts %d bytes, want at most %d", total, limits.MaxBytes)
	}
	if msgs, err := r.History(ctx, "/chat", "gone", "", 0, limits); err != nil || len(msgs) != 1 {
		t.Errorf("the recreated room answers %d messages (%v), want its one new message", len(msgs), err)
	}
}

// checkHistoryConsistent checks a namespace's history keys in Redis: each
// room's stream and sizes list hold the same entries with their true
// sizes, each has its member in the order set, the members' sizes add up
// to the byte count, and every key expires within limits.TTL. It returns
// the messages kept (their index) and the byte count.
func checkHistoryConsistent(t testing.TB, r *Redis, prefix, namespace string, limits HistoryLimits) (kept []int, total int64) {
	t.Helper()
	ctx := context.Background()
	orderKey, bytesKey := prefix+":history-order:"+namespace, prefix+":history-bytes:"+namespace
	members, err := r.client.ZRange(ctx, orderKey, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	inOrder := map[string]bool{}
	var counted int64
	for _, m := range members {
		inOrder[m] = true
		fields := strings.SplitN(m, " ", 3)
		n, _ := strconv.ParseInt(fields[1], 10, 64)
		counted += n
	}
	total, err = r.client.HGet(ctx, bytesKey, "bytes").Int64()
	if err != nil || total != counted {
		t.Fatalf("the byte count is %d (%v), its members' sizes add up to %d", total, err, counted)
	}
	streams, err := r.client.Keys(ctx, prefix+":history:"+namespace+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range streams {
		room := strings.TrimPrefix(key, prefix+":history:"+namespace+":")
		sizesKey := prefix + ":history-sizes:" + namespace + ":" + room
		entries, _ := r.client.XRange(ctx, key, "-", "+").Result()
		sizes, _ := r.client.LRange(ctx, sizesKey, 0, -1).Result()
		if len(entries) != len(sizes) || len(entries) > limits.Size || len(entries) == 0 {
			t.Fatalf("room %s: %d entries, %d size records, size %d", room, len(entries), len(sizes), limits.Size)
		}
		for i, e := range entries {
			body, _ := e.Values["m"].(string)
			cost := len(body) + historyEntryCost + len(room)
			if i == 0 {
				cost += historyRoomCost // the room's own, carried by its oldest message
			}
			record := e.ID + " " + strconv.Itoa(cost)
			if sizes[i] != record || !inOrder[record+" "+room] {
				t.Fatalf("room %s entry %s (%d bytes): size record %q, in the order set %v", room, e.ID, len(body), sizes[i], inOrder[record+" "+room])
			}
			var msg Message
			_ = json.Unmarshal([]byte(body), &msg)
			var arg string
			_ = json.Unmarshal(msg.Args[0], &arg)
			n, _ := strconv.Atoi(strings.Fields(arg)[0])
			kept = append(kept, n)
		}
		for _, k := range []string{key, sizesKey} {
			checkExpires(t, r, k, limits.TTL)
		}
	}
	checkExpires(t, r, orderKey, limits.TTL)
	checkExpires(t, r, bytesKey, limits.TTL)
	return kept, total
}

func checkExpires(t testing.TB, r *Redis, key string, ttl time.Duration) {
	t.Helper()
	left, err := r.client.PTTL(context.Background(), key).Result()
	if err != nil || left <= 0 || left > ttl {
		t.Fatalf("%s expires in %s (%v), want within %s", key, left, err, ttl)
	}
}

// BenchmarkRedisAppendHistory is the cost of one append of a 1 KiB message
// to one of 1000 rooms on a real redis-server: "rooms" with room history
// bounded by size only, "max_bytes" once the namespace's bytes are full,
// so that each append also trims the oldest entry of another room.
func BenchmarkRedisAppendHistory(b *testing.B) {
	for _, bc := range []struct {
		name     string
		maxBytes int64
	}{{"size only", 0}, {"at max_bytes", 256 << 10}} {
		b.Run(bc.name, func(b *testing.B) {
			r := startHistoryRedis(b)
			ctx := context.Background()
			limits := HistoryLimits{Size: 10, TTL: time.Minute, MaxBytes: bc.maxBytes}
			body := json.RawMessage(`"` + strings.Repeat("x", 1<<10) + `"`)
			rooms := make([]string, 1000)
			for i := range rooms {
				rooms[i] = "room-" + strconv.Itoa(i)
			}
			msg := &Message{Kind: KindBroadcast, Namespace: "/chat", Event: "m", Args: []json.RawMessage{body}}
			for i := range 2000 { // fill past max_bytes first
				if err := r.AppendHistory(ctx, rooms[i%len(rooms)], msg, limits); err != nil {
					b.Fatal(err)
				}
			}
			if err := r.client.ConfigResetStat(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				if err := r.AppendHistory(ctx, rooms[i%len(rooms)], msg, limits); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(scriptMicros(b, r), "redis-µs/op")
		})
	}
}

// scriptMicros is the time Redis spent per script run since its
// statistics were reset: the append's cost to Redis, round trip aside.
func scriptMicros(b *testing.B, r *Redis) float64 {
	info, err := r.client.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if !strings.HasPrefix(line, "cmdstat_evalsha:") {
			continue
		}
		for _, field := range strings.Split(strings.TrimPrefix(line, "cmdstat_evalsha:"), ",") {
			if v, ok := strings.CutPrefix(field, "usec_per_call="); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
	}
	b.Fatalf("no evalsha in %q", info)
	return 0
}
