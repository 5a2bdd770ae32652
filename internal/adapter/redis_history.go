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

// In Redis, a room's history is the stream "<prefix>:history:<nsp>:<room>"
// (field "m" holding the Message as JSON) beside the list
// "<prefix>:history-sizes:<nsp>:<room>" of "<id> <bytes>" of each entry,
// oldest first. A namespace's rooms together are bounded by max_bytes as
// the Memory adapter bounds them: "<prefix>:history-order:<nsp>" is a
// sorted set of "<id> <bytes> <room>", one member per entry in append
// order, and the hash "<prefix>:history-bytes:<nsp>" holds the sum of
// their bytes and the sequence scoring them. An entry's bytes are its JSON
// and what Redis takes to keep it (historyEntryCost), a room's oldest entry
// carrying the room's own cost as well (historyRoomCost), moved to the next
// oldest when it is trimmed. The script that appends trims
// the room to its size and then the namespace's oldest entries, whatever
// their room, until the bytes fit, without reading the entries it drops.
// Every key expires with ttl after the last append to it; a room whose
// stream expired keeps its members in the order set until they are
// trimmed, counted as the Memory adapter counts messages older than ttl.

// historyScript appends ARGV[1] to the room's stream KEYS[1] and its size
// to KEYS[2], keeps the room's last ARGV[2] entries, then drops the
// namespace's oldest entries (KEYS[3], counted in KEYS[4]) while their
// bytes exceed ARGV[4] (0: no byte bound); the stream and sizes list of a
// room are ARGV[5] and ARGV[6] followed by its name, ARGV[7] the room's.
// Every key it writes is kept ARGV[3] milliseconds more.
var historyScript = redis.NewScript(`
local stream, sizes, order, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local room, streams, sizeLists = ARGV[7], ARGV[5], ARGV[6]
local entryCost, roomCost = tonumber(ARGV[8]), tonumber(ARGV[9])
local function parse(record)
  local id, cost = string.match(record, '^(%S+) (%d+)$')
  return id, tonumber(cost)
end
-- charge moves the room's own cost to its new oldest entry, in its sizes
-- list and the order set, so that it goes when the room's last entry goes.
local function charge(list, name)
  local head = redis.call('LINDEX', list, 0)
  local id, cost = parse(head)
  local score = redis.call('ZSCORE', order, head .. ' ' .. name)
  local record = id .. ' ' .. (cost + roomCost)
  redis.call('LSET', list, 0, record)
  redis.call('ZREM', order, head .. ' ' .. name)
  redis.call('ZADD', order, score, record .. ' ' .. name)
  return id
end
local fresh = redis.call('EXISTS', stream) == 0
if fresh then
  redis.call('DEL', sizes)
end
if redis.call('EXISTS', order) == 0 then
  redis.call('DEL', meta)
end
local id = redis.call('XADD', stream, '*', 'm', ARGV[1])
local cost = #ARGV[1] + entryCost
if fresh then
  cost = cost + roomCost
end
local entry = id .. ' ' .. cost
redis.call('RPUSH', sizes, entry)
local seq = redis.call('HINCRBY', meta, 'seq', 1)
local total = redis.call('HINCRBY', meta, 'bytes', cost)
redis.call('ZADD', order, seq, entry .. ' ' .. room)
local maxEntries, maxBytes = tonumber(ARGV[2]), tonumber(ARGV[4])
local count = redis.call('LLEN', sizes)
if count > maxEntries then
  while count > maxEntries do
    local head = redis.call('LPOP', sizes)
    redis.call('ZREM', order, head .. ' ' .. room)
    local _, dropped = parse(head)
    total = total - dropped
    count = count - 1
  end
  redis.call('XTRIM', stream, 'MINID', '=', charge(sizes, room))
  total = total + roomCost
end
while maxBytes > 0 and total > maxBytes do
  local oldest = redis.call('ZPOPMIN', order)[1]
  if not oldest then
    total = 0
    break
  end
  local head, name = string.match(oldest, '^(%S+ %d+) (.*)$')
  local _, dropped = parse(head)
  total = total - dropped
  local list = sizeLists .. name
  if redis.call('LINDEX', list, 0) == head then
    redis.call('LPOP', list)
    if redis.call('LLEN', list) > 0 then
      redis.call('XTRIM', streams .. name, 'MINID', '=', charge(list, name))
      total = total + roomCost
    else
      redis.call('DEL', streams .. name, list)
    end
  end
end
redis.call('HSET', meta, 'bytes', total)
for _, key in ipairs(KEYS) do
  redis.call('PEXPIRE', key, ARGV[3])
end
return 1
`)

// What Redis takes for room history besides the messages' JSON, counted
// against max_bytes so that small messages to many rooms cannot make Redis
// hold many times the bound: for each message its place in the stream, its
// size record and its member of the order set (the room name aside); for
// each room its stream, whose first node Redis allocates at 4 KiB, its
// sizes list and their two keys (MEMORY USAGE, Redis 7).
const (
	historyEntryCost = 192
	historyRoomCost  = 5 << 10
)

func (r *Redis) historyKey(namespace, room string) string {
	return r.prefix + ":history:" + namespace + ":" + room
}

// historyKeys are the keys historyScript is given for room, and the
// prefixes of any room's stream and sizes list in the namespace.
func (r *Redis) historyKeys(namespace, room string) (keys []string, streams, sizeLists string) {
	streams = r.prefix + ":history:" + namespace + ":"
	sizeLists = r.prefix + ":history-sizes:" + namespace + ":"
	keys = []string{streams + room, sizeLists + room,
		r.prefix + ":history-order:" + namespace, r.prefix + ":history-bytes:" + namespace}
	return keys, streams, sizeLists
}

// AppendHistory adds msg to the room's stream in Redis, trimmed to the
// room's size and the namespace's bytes (the JSON kept and Redis's
// bookkeeping).
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
	keys, streams, sizeLists := r.historyKeys(msg.Namespace, room)
	err = historyScript.Run(ctx, r.client, keys, payload, size, ttl.Milliseconds(), max(limits.MaxBytes, 0),
		streams, sizeLists, room, historyEntryCost+len(room), historyRoomCost).Err()
	if err != nil {
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
