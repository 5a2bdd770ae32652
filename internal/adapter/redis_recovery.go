package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// In Redis, a namespace's stream is the Redis stream "<prefix>:stream:<nsp>"
// (one entry per packet, field "m" holding the Message as JSON), and a
// session is the key "<prefix>:session:<pid>" expiring with it. A recorded
// broadcast is appended and published in one script, so that the order of
// the pub/sub messages on "<prefix>:stream" is the order of the stream: every
// node, the sender's included, delivers recorded broadcasts from there.
//
// Beside the stream, "<prefix>:stream-sizes:<nsp>" lists "<id> <bytes>" of
// each entry, oldest first, and "<prefix>:stream-bytes:<nsp>" their sum:
// the script trims the stream by bytes too (max_bytes), oldest first, as
// the Memory adapter does, without reading the entries it drops. The three
// keys expire together; a stream found missing resets the other two.

// recordScript appends ARGV[1] to the stream KEYS[1] and trims its oldest
// entries while it holds more than ARGV[2] entries or ARGV[5] bytes (0: no
// byte limit), or they are older than ARGV[3] milliseconds (0: no age
// limit), keeping the sizes list KEYS[3] and byte count KEYS[4] in step;
// keeps the three for ARGV[4] milliseconds more, and publishes
// "<id> <message>" on KEYS[2]. It returns the id.
var recordScript = redis.NewScript(`
local stream, sizes, total = KEYS[1], KEYS[3], KEYS[4]
if redis.call('EXISTS', stream) == 0 then
  redis.call('DEL', sizes, total)
end
local id = redis.call('XADD', stream, '*', 'm', ARGV[1])
redis.call('RPUSH', sizes, id .. ' ' .. #ARGV[1])
local bytes = redis.call('INCRBY', total, #ARGV[1])
local maxEntries, age, maxBytes = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5])
local cutoff = -1
if age > 0 then
  local t = redis.call('TIME')
  cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - age
end
local count = redis.call('LLEN', sizes)
local dropped = 0
while count > 0 do
  local head = redis.call('LINDEX', sizes, 0)
  local ms, size = string.match(head, '^(%d+)-%d+ (%d+)$')
  if not (count > maxEntries or (maxBytes > 0 and bytes > maxBytes) or tonumber(ms) < cutoff) then
    break
  end
  redis.call('LPOP', sizes)
  bytes = bytes - tonumber(size)
  count = count - 1
  dropped = dropped + 1
end
if dropped > 0 then
  local head = redis.call('LINDEX', sizes, 0)
  if head then
    redis.call('XTRIM', stream, 'MINID', '=', string.match(head, '^(%S+)'))
  else
    redis.call('XTRIM', stream, 'MAXLEN', '=', 0)
  end
  redis.call('SET', total, bytes)
end
redis.call('PEXPIRE', stream, ARGV[4])
redis.call('PEXPIRE', sizes, ARGV[4])
redis.call('PEXPIRE', total, ARGV[4])
redis.call('PUBLISH', KEYS[2], id .. ' ' .. ARGV[1])
return id
`)

// defaultStreamEntries bounds a stream when the limits give no count.
const defaultStreamEntries = 10_000

var _ Recorder = (*Redis)(nil)

func (r *Redis) streamKey(namespace string) string { return r.prefix + ":stream:" + namespace }

func (r *Redis) sessionKey(pid string) string { return r.prefix + ":session:" + pid }

// Record appends msg to its namespace's stream, trimmed to limits (its
// bytes counted as the JSON kept in Redis), and publishes it to every node;
// this node delivers it when it comes back from Redis.
func (r *Redis) Record(ctx context.Context, msg *Message, limits StreamLimits) error {
	if err := r.usable(); err != nil {
		return err
	}
	msg.Node = r.node
	payload, err := json.Marshal(msg)
	if err != nil {
		r.errors.Add(1)
		return fmt.Errorf("adapter: encode recorded message: %w", err)
	}
	entries := limits.MaxEntries
	if entries <= 0 {
		entries = defaultStreamEntries
	}
	keep := limits.MaxAge
	if keep <= 0 {
		keep = 24 * time.Hour
	}
	err = recordScript.Run(ctx, r.client, []string{r.streamKey(msg.Namespace), r.streamChannel,
		r.prefix + ":stream-sizes:" + msg.Namespace, r.prefix + ":stream-bytes:" + msg.Namespace},
		payload, entries, limits.MaxAge.Milliseconds(), (2 * keep).Milliseconds(), limits.MaxBytes).Err()
	if err != nil {
		r.errors.Add(1)
		return fmt.Errorf("adapter: record broadcast: %w", err)
	}
	return nil
}

// handleRecorded delivers a recorded broadcast ("<id> <message>"), this
// node's own included.
func (r *Redis) handleRecorded(ctx context.Context, recv Receiver, payload string) {
	id, body, ok := strings.Cut(payload, " ")
	var msg Message
	if ok {
		if _, _, err := ParseOffset(id); err != nil {
			ok = false
		} else if err := json.Unmarshal([]byte(body), &msg); err != nil {
			ok = false
		}
	}
	if !ok {
		r.errors.Add(1)
		r.logger.Debug("redis adapter: undecodable recorded message ignored")
		return
	}
	msg.Offset = id
	recv.Deliver(ctx, &msg)
}

// Head is the id of the stream's last entry, trimmed or not.
func (r *Redis) Head(ctx context.Context, namespace string) (string, error) {
	info, err := r.client.XInfoStream(ctx, r.streamKey(namespace)).Result()
	if isNoSuchKey(err) {
		return StartOffset, nil
	}
	if err != nil {
		return "", fmt.Errorf("adapter: stream head: %w", err)
	}
	return info.LastGeneratedID, nil
}

// Since reads the entries after offset and, in the same transaction, what
// the stream keeps: the entries are complete unless some after offset were
// trimmed.
func (r *Redis) Since(ctx context.Context, namespace, offset string) ([]*Message, bool, error) {
	if _, _, err := ParseOffset(offset); err != nil {
		return nil, false, nil
	}
	key := r.streamKey(namespace)
	var (
		rangeCmd *redis.XMessageSliceCmd
		infoCmd  *redis.XInfoStreamCmd
	)
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		rangeCmd = p.XRange(ctx, key, "("+offset, "+")
		infoCmd = p.XInfoStream(ctx, key)
		return nil
	})
	info, infoErr := infoCmd.Result()
	if isNoSuchKey(infoErr) {
		// Nothing recorded in the window: complete only for a client that
		// has seen nothing either.
		return nil, offset == StartOffset, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("adapter: read stream: %w", err)
	}
	if !streamKeepsAfter(info, offset) {
		return nil, false, nil
	}
	entries, err := rangeCmd.Result()
	if err != nil {
		return nil, false, fmt.Errorf("adapter: read stream: %w", err)
	}
	out := make([]*Message, 0, len(entries))
	for _, e := range entries {
		body, _ := e.Values["m"].(string)
		msg := new(Message)
		if err := json.Unmarshal([]byte(body), msg); err != nil {
			return nil, false, fmt.Errorf("adapter: stream entry %s: %w", e.ID, err)
		}
		msg.Offset = e.ID
		out = append(out, msg)
	}
	return out, true, nil
}

// streamKeepsAfter reports whether every entry after offset is still in
// the stream: trimming removes the oldest entries, so that holds when the
// entry at offset is still there, or when nothing was ever trimmed.
func streamKeepsAfter(info *redis.XInfoStream, offset string) bool {
	if CompareOffsets(offset, info.LastGeneratedID) > 0 {
		return false // not an offset of this stream
	}
	if info.Length == 0 {
		return offset == info.LastGeneratedID
	}
	if CompareOffsets(info.FirstEntry.ID, offset) <= 0 {
		return true
	}
	return info.EntriesAdded == info.Length
}

// SaveSession keeps s in Redis until it expires.
func (r *Redis) SaveSession(ctx context.Context, s *Session) error {
	ttl := time.Until(s.Expires)
	if ttl <= 0 {
		return nil
	}
	body, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("adapter: encode session: %w", err)
	}
	if err := r.client.Set(ctx, r.sessionKey(s.PID), body, ttl).Err(); err != nil {
		return fmt.Errorf("adapter: save session: %w", err)
	}
	return nil
}

// TakeSession gets and deletes the session of pid in one command.
func (r *Redis) TakeSession(ctx context.Context, pid string) (*Session, error) {
	body, err := r.client.GetDel(ctx, r.sessionKey(pid)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("adapter: take session: %w", err)
	}
	s := new(Session)
	if err := json.Unmarshal([]byte(body), s); err != nil {
		return nil, fmt.Errorf("adapter: decode session: %w", err)
	}
	if !time.Now().Before(s.Expires) {
		return nil, nil
	}
	return s, nil
}

func isNoSuchKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such key")
}
