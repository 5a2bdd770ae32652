package adapter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// PresenceChange is a user who left a room for the whole cluster: its last
// socket in the cluster left.
type PresenceChange struct {
	Namespace, Room, User string
}

// PresenceQuery asks the cluster's record of a room: how many users are
// in it (User "") or whether User is.
type PresenceQuery struct {
	Namespace, Room, User string
}

// PresenceRecord is implemented by adapters that record, for the whole
// cluster, which users are in which rooms (namespaces[].presence), so that
// a user's first join and last leave are decided once however many nodes
// its sockets are on. Each node records the (room, user) pairs it has
// sockets for, and holds a lease; the pairs of a node whose lease lapsed
// are taken out by the next PresenceSweep of any node.
//
// When a user is recorded with announce, the record itself sends
// presence:join when it enters the room and presence:leave when it leaves
// (whoever decides it: the node, a sweep of a dead node, a node leaving),
// to the room's sockets on every node, the same message for all: the
// announcements of one room reach every socket in the order the record
// decided them.
type PresenceRecord interface {
	// PresenceJoin records that this node has sockets of user in room,
	// with the claims shown of it (JSON), and reports whether no node had
	// any before (the user entered the room), which it then announces to
	// the room, except socket, when announce is set. lease is the node's,
	// as given to PresenceKeepAlive: the records written expire a few
	// leases later unless renewed.
	PresenceJoin(ctx context.Context, lease time.Duration, namespace, room, user string, claims []byte, announce bool, socket string) (first bool, err error)
	// PresenceLeave records that this node has no socket of user left in
	// room, and reports whether it was the last node with one (the user
	// left the room), which it then announces, except socket, when the
	// user was recorded with announce.
	PresenceLeave(ctx context.Context, namespace, room, user, socket string) (last bool, err error)
	// PresenceKeepAlive renews the node's lease and the expiry of its
	// records, those of rooms included, and reports whether the lease had
	// lapsed (or never existed): then the node's records may have been
	// swept and must be made again.
	PresenceKeepAlive(ctx context.Context, lease time.Duration, rooms []PresenceQuery) (rejoined bool, err error)
	// PresenceSweep takes the nodes whose lease lapsed out of every room,
	// and returns the users this took out of a room (announced as
	// recorded).
	PresenceSweep(ctx context.Context) ([]PresenceChange, error)
	// PresenceLeaveAll takes this node out of every room and ends its
	// lease, and returns the users this took out of a room (announced as
	// recorded).
	PresenceLeaveAll(ctx context.Context) ([]PresenceChange, error)
	// PresenceRead answers each query in one round trip: the number of
	// users of the room, or 1 when the user is in it and 0 when not.
	PresenceRead(ctx context.Context, queries []PresenceQuery) ([]int64, error)
}

var _ PresenceRecord = (*Redis)(nil)

// Keys of the presence records, after the prefix:
//
//	<prefix>:presence:<member>        hash of a room's users: user -> "<nodes>:<a|q>:<claims>"
//	<prefix>:presence-node:<node>     set of a node's entries, "<len(member)>:<member><user>"
//	<prefix>:presence-lease:<node>    the node's lease, a key with a TTL
//	<prefix>:presence-nodes           set of the nodes with a record
//
// where member names the room as in the occupancy records, and a (announce)
// or q (quiet) says whether the user's leave is announced. A room's hash
// holds one field per user with a socket in it on a live node; a node's set
// one entry per (room, user) of its sockets. Every key expires
// presenceKeyTTLFactor leases after the last renewal of a node using it, so
// that the records of a cluster whose nodes all died go away on their own.
const (
	presenceRoom  = ":presence:"
	presenceNode  = ":presence-node:"
	presenceLease = ":presence-lease:"
	presenceNodes = ":presence-nodes"
	// presenceKeyTTLFactor times the lease is how long the records live
	// without renewal: longer than a lease, so that a live node's sweep
	// takes a dead node's entries out (and announces them) before the
	// keys expire.
	presenceKeyTTLFactor = 3
)

// presenceLua are the functions the presence scripts share: parsing a
// recorded value, and announcing a change to the room as a broadcast of the
// adapter's (node "", so that every node delivers it, this one included),
// published by the script so that the announcements of a room are in the
// order the record decided them.
const presenceLua = `
local function parse(v)
  local sep = string.find(v, ':', 1, true)
  return tonumber(string.sub(v, 1, sep - 1)), string.sub(v, sep + 1, sep + 1), string.sub(v, sep + 3)
end
local function announce(channel, member, user, event, claims, except)
  local colon = string.find(member, ':', 1, true)
  local n = tonumber(string.sub(member, 1, colon - 1))
  local ns = string.sub(member, colon + 1, colon + n)
  local room = cjson.encode(string.sub(member, colon + n + 1))
  local m = '{"kind":"broadcast","node":"","nsp":' .. cjson.encode(ns) .. ',"rooms":[' .. room .. ']'
  if except ~= '' then m = m .. ',"except":[' .. cjson.encode(except) .. ']' end
  m = m .. ',"event":"' .. event .. '","args":[{"room":' .. room .. ',"user":' .. cjson.encode(user) .. ',"claims":' .. claims .. '}]}'
  redis.call('PUBLISH', channel, m)
end
`

// presenceJoinScript: KEYS room hash, node's set; ARGV entry, user,
// claims, key ttl in ms, a or q, member, channel, except. It returns 1 when
// the user had no node before. A field missing while the node's entry is
// there (the hash expired alone) is written again, as a first join.
var presenceJoinScript = redis.NewScript(presenceLua + `
local added = redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local v = redis.call('HGET', KEYS[1], ARGV[2])
local first = 0
if not v then
  redis.call('HSET', KEYS[1], ARGV[2], '1:' .. ARGV[5] .. ':' .. ARGV[3])
  first = 1
  if ARGV[5] == 'a' then announce(ARGV[7], ARGV[6], ARGV[2], 'presence:join', ARGV[3], ARGV[8]) end
elseif added == 1 then
  local n, flag, claims = parse(v)
  redis.call('HSET', KEYS[1], ARGV[2], (n + 1) .. ':' .. flag .. ':' .. claims)
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return first
`)

// presenceLeaveScript: KEYS room hash, node's set; ARGV entry, user,
// member, channel, except. It returns 1 when the user has no node left.
var presenceLeaveScript = redis.NewScript(presenceLua + `
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then return 0 end
local v = redis.call('HGET', KEYS[1], ARGV[2])
if not v then return 0 end
local n, flag, claims = parse(v)
if n > 1 then
  redis.call('HSET', KEYS[1], ARGV[2], (n - 1) .. ':' .. flag .. ':' .. claims)
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[2])
if flag == 'a' then announce(ARGV[4], ARGV[3], ARGV[2], 'presence:leave', claims, ARGV[5]) end
return 1
`)

// presenceKeepAliveScript: KEYS lease, nodes, node's set; ARGV node, ttl
// in ms, key ttl in ms. It returns 1 when the lease was not there.
var presenceKeepAliveScript = redis.NewScript(`
local renewed = redis.call('SET', KEYS[1], '1', 'PX', ARGV[2], 'XX')
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
if renewed then return 0 end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
return 1
`)

// presenceSweepScript: KEYS nodes; ARGV prefix, a node to remove whatever
// its lease ("" for none), channel. It takes the nodes without a lease (and
// that node) out of their rooms, announces the users left without a node
// as recorded, and returns, flat, the member and user of each.
var presenceSweepScript = redis.NewScript(presenceLua + `
local out = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local lease = ARGV[1] .. ':presence-lease:' .. node
  if node == ARGV[2] then redis.call('DEL', lease) end
  if redis.call('EXISTS', lease) == 0 then
    local entries = ARGV[1] .. ':presence-node:' .. node
    for _, entry in ipairs(redis.call('SMEMBERS', entries)) do
      local colon = string.find(entry, ':', 1, true)
      local len = tonumber(string.sub(entry, 1, colon - 1))
      local member = string.sub(entry, colon + 1, colon + len)
      local user = string.sub(entry, colon + len + 1)
      local key = ARGV[1] .. ':presence:' .. member
      local v = redis.call('HGET', key, user)
      if v then
        local n, flag, claims = parse(v)
        if n > 1 then
          redis.call('HSET', key, user, (n - 1) .. ':' .. flag .. ':' .. claims)
        else
          redis.call('HDEL', key, user)
          if flag == 'a' then announce(ARGV[3], member, user, 'presence:leave', claims, '') end
          table.insert(out, member)
          table.insert(out, user)
        end
      end
    end
    redis.call('DEL', entries)
    redis.call('SREM', KEYS[1], node)
  end
end
return out
`)

// presenceEntry names a (room, user) pair in a node's set.
func presenceEntry(member, user string) string {
	return strconv.Itoa(len(member)) + ":" + member + user
}

// errUnexpectedPresence is a script reply of the wrong shape.
var errUnexpectedPresence = errors.New("unexpected reply from the presence script")

// presenceKeyTTL is how long the records outlive a node's last renewal,
// in milliseconds.
func presenceKeyTTL(lease time.Duration) int64 {
	return (presenceKeyTTLFactor * lease).Milliseconds()
}

// PresenceJoin implements PresenceRecord.
func (r *Redis) PresenceJoin(ctx context.Context, lease time.Duration, namespace, room, user string, claims []byte, announce bool, socket string) (bool, error) {
	member := occupancyMember(namespace, room)
	keys := []string{r.prefix + presenceRoom + member, r.prefix + presenceNode + r.node}
	flag := "q"
	if announce {
		flag = "a"
	}
	first, err := presenceJoinScript.Run(ctx, r.bounded, keys, presenceEntry(member, user), user, claims,
		presenceKeyTTL(lease), flag, member, r.clusterChannel, socket).Int64()
	if err != nil {
		return false, fmt.Errorf("presence of %.64q in %s %.64q: %w", user, namespace, room, err)
	}
	return first == 1, nil
}

// PresenceLeave implements PresenceRecord.
func (r *Redis) PresenceLeave(ctx context.Context, namespace, room, user, socket string) (bool, error) {
	member := occupancyMember(namespace, room)
	keys := []string{r.prefix + presenceRoom + member, r.prefix + presenceNode + r.node}
	last, err := presenceLeaveScript.Run(ctx, r.bounded, keys, presenceEntry(member, user), user,
		member, r.clusterChannel, socket).Int64()
	if err != nil {
		return false, fmt.Errorf("presence of %.64q in %s %.64q: %w", user, namespace, room, err)
	}
	return last == 1, nil
}

// PresenceKeepAlive implements PresenceRecord. The expiry of the rooms'
// hashes is renewed in the same round trip.
func (r *Redis) PresenceKeepAlive(ctx context.Context, lease time.Duration, rooms []PresenceQuery) (bool, error) {
	keyTTL := presenceKeyTTL(lease)
	pipe := r.bounded.Pipeline()
	keys := []string{r.prefix + presenceLease + r.node, r.prefix + presenceNodes, r.prefix + presenceNode + r.node}
	rejoined := presenceKeepAliveScript.Eval(ctx, pipe, keys, r.node, lease.Milliseconds(), keyTTL)
	for _, q := range rooms {
		pipe.PExpire(ctx, r.prefix+presenceRoom+occupancyMember(q.Namespace, q.Room), time.Duration(keyTTL)*time.Millisecond)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("presence lease: %w", err)
	}
	n, err := rejoined.Int64()
	if err != nil {
		return false, fmt.Errorf("presence lease: %w", err)
	}
	return n == 1, nil
}

// PresenceSweep implements PresenceRecord.
func (r *Redis) PresenceSweep(ctx context.Context) ([]PresenceChange, error) {
	return r.presenceSweep(ctx, "")
}

// PresenceLeaveAll implements PresenceRecord.
func (r *Redis) PresenceLeaveAll(ctx context.Context) ([]PresenceChange, error) {
	return r.presenceSweep(ctx, r.node)
}

func (r *Redis) presenceSweep(ctx context.Context, leaving string) ([]PresenceChange, error) {
	reply, err := presenceSweepScript.Run(ctx, r.bounded, []string{r.prefix + presenceNodes}, r.prefix, leaving,
		r.clusterChannel).StringSlice()
	if err == nil && len(reply)%2 != 0 {
		err = errUnexpectedPresence
	}
	if err != nil {
		return nil, fmt.Errorf("presence sweep: %w", err)
	}
	var left []PresenceChange
	for i := 0; i+1 < len(reply); i += 2 {
		if namespace, room, ok := parseOccupancyMember(reply[i]); ok {
			left = append(left, PresenceChange{Namespace: namespace, Room: room, User: reply[i+1]})
		}
	}
	return left, nil
}

// PresenceRead implements PresenceRecord.
func (r *Redis) PresenceRead(ctx context.Context, queries []PresenceQuery) ([]int64, error) {
	if len(queries) == 0 {
		return nil, nil
	}
	pipe := r.bounded.Pipeline()
	cmds := make([]redis.Cmder, len(queries))
	for i, q := range queries {
		key := r.prefix + presenceRoom + occupancyMember(q.Namespace, q.Room)
		if q.User == "" {
			cmds[i] = pipe.HLen(ctx, key)
		} else {
			cmds[i] = pipe.HExists(ctx, key, q.User)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("presence read: %w", err)
	}
	out := make([]int64, len(queries))
	for i, cmd := range cmds {
		switch c := cmd.(type) {
		case *redis.IntCmd:
			out[i] = c.Val()
		case *redis.BoolCmd:
			if c.Val() {
				out[i] = 1
			}
		}
	}
	return out, nil
}
