package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// historyScript appends ARGV[1] to the room's stream KEYS[1], keeps its
// last ARGV[2] entries and the stream itself for ARGV[3] milliseconds.
var historyScript = redis.NewScript(`
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'm', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

func (r *Redis) historyKey(namespace, room string) string {
	return r.prefix + ":history:" + namespace + ":" + room
}

// AppendHistory adds msg to the room's stream in Redis.
func (r *Redis) AppendHistory(ctx context.Context, room string, msg *Message, limits HistoryLimits) error {
	if err := r.usable(); err != nil {
		return err
	}
	kept := *msg
	kept.Node, kept.Offset = "", ""
	payload, err := json.Marshal(&kept)
	if err != nil {
		return fmt.Errorf("adapter: encode history message: %w", err)
	}
	size := limits.Size
	if size <= 0 {
		size = defaultStreamEntries
	}
	ttl := limits.TTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	if err := historyScript.Run(ctx, r.client, []string{r.historyKey(msg.Namespace, room)}, payload, size, ttl.Milliseconds()).Err(); err != nil {
		r.errors.Add(1)
		return fmt.Errorf("adapter: append history: %w", err)
	}
	return nil
}

// History reads the room's stream: after since, or its last limit entries.
func (r *Redis) History(ctx context.Context, namespace, room, since string, limit int, limits HistoryLimits) ([]*Message, error) {
	key := r.historyKey(namespace, room)
	var (
		entries []redis.XMessage
		err     error
	)
	switch {
	case since != "":
		if _, _, perr := ParseOffset(since); perr != nil {
			return nil, fmt.Errorf("adapter: history since %q: %w", since, perr)
		}
		entries, err = r.client.XRange(ctx, key, "("+since, "+").Result()
	case limit > 0:
		entries, err = r.client.XRevRangeN(ctx, key, "+", "-", int64(limit)).Result()
		slices.Reverse(entries)
	default:
		entries, err = r.client.XRange(ctx, key, "-", "+").Result()
	}
	if err != nil {
		return nil, fmt.Errorf("adapter: read history: %w", err)
	}
	oldest := time.Time{}
	if limits.TTL > 0 {
		oldest = time.Now().Add(-limits.TTL)
	}
	out := make([]*Message, 0, len(entries))
	for _, e := range entries {
		if !oldest.IsZero() && entryTime(e.ID).Before(oldest) {
			continue
		}
		body, _ := e.Values["m"].(string)
		msg := new(Message)
		if err := json.Unmarshal([]byte(body), msg); err != nil {
			return nil, fmt.Errorf("adapter: history entry %s: %w", e.ID, err)
		}
		msg.Offset = e.ID
		out = append(out, msg)
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

// entryTime is when Redis added a stream entry: the milliseconds of its id.
func entryTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseInt(ms, 10, 64)
	return time.UnixMilli(n)
}
