package adapter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RoomChange is a room of a namespace whose cluster-wide occupancy changed,
// at a time of the shared clock (Redis's), so that the changes of one room
// seen by several nodes can be put in order.
type RoomChange struct {
	Namespace string
	Room      string
	At        time.Time
}

// Occupancy is implemented by adapters that can record, for the whole
// cluster, which nodes have members in which rooms: the lifecycle hooks ask
// it whether a node's change fills or empties a room for the cluster.
// Each node holds a lease; the rooms of a node whose lease lapsed are
// vacated by the next Sweep of any node.
type Occupancy interface {
	// Occupy records that this node has members in room, and reports
	// whether no node had any before.
	Occupy(ctx context.Context, namespace, room string) (first bool, at time.Time, err error)
	// Vacate records that this node has no member left in room, and
	// reports whether it was the last node with members.
	Vacate(ctx context.Context, namespace, room string) (last bool, at time.Time, err error)
	// KeepAlive renews the node's lease for ttl, and reports whether it
	// had lapsed (or never existed): then the node's records may have been
	// swept and must be made again.
	KeepAlive(ctx context.Context, ttl time.Duration) (rejoined bool, err error)
	// Sweep removes the nodes whose lease lapsed from every room, and
	// returns the rooms that this left without any node.
	Sweep(ctx context.Context) ([]RoomChange, error)
	// Leave removes this node from every room and ends its lease, and
	// returns the rooms that this left without any node.
	Leave(ctx context.Context) ([]RoomChange, error)
}

var _ Occupancy = (*Redis)(nil)

// Keys of the occupancy records, after the prefix:
//
//	<prefix>:occupancy:<member>        set of the nodes with members in a room
//	<prefix>:occupancy-node:<node>     set of the members (rooms) of a node
//	<prefix>:occupancy-lease:<node>    the node's lease, a key with a TTL
//	<prefix>:occupancy-nodes           set of the nodes with a record
//
// where member is "<len(namespace)>:<namespace><room>", which no two rooms
// share whatever their names hold.
const (
	occupancyRoom  = ":occupancy:"
	occupancyNode  = ":occupancy-node:"
	occupancyLease = ":occupancy-lease:"
	occupancyNodes = ":occupancy-nodes"
)

// The scripts return the Redis clock (seconds, microseconds) first, as the
// time of the change, then what they decided.
const redisClock = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
`

// occupyScript: KEYS room set, node's set; ARGV node, member.
var occupyScript = redis.NewScript(redisClock + `
local added = redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
local first = 0
if added == 1 and redis.call('SCARD', KEYS[1]) == 1 then first = 1 end
return {t[1], t[2], first}
`)

// vacateScript: KEYS room set, node's set; ARGV node, member.
var vacateScript = redis.NewScript(redisClock + `
local removed = redis.call('SREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
local last = 0
if removed == 1 and redis.call('SCARD', KEYS[1]) == 0 then last = 1 end
return {t[1], t[2], last}
`)

// keepAliveScript: KEYS lease, nodes; ARGV node, ttl in milliseconds.
// It returns 1 when the lease was not there.
var keepAliveScript = redis.NewScript(`
local renewed = redis.call('SET', KEYS[1], '1', 'PX', ARGV[2], 'XX')
redis.call('SADD', KEYS[2], ARGV[1])
if renewed then return 0 end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
return 1
`)

// sweepScript: KEYS nodes; ARGV prefix, and a node to remove whatever its
// lease ("" for none). It removes the nodes without a lease (and that
// node) from their rooms and returns the clock and the members left empty.
var sweepScript = redis.NewScript(redisClock + `
local out = {t[1], t[2]}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local lease = ARGV[1] .. ':occupancy-lease:' .. node
  if node == ARGV[2] then redis.call('DEL', lease) end
  if redis.call('EXISTS', lease) == 0 then
    local rooms = ARGV[1] .. ':occupancy-node:' .. node
    for _, member in ipairs(redis.call('SMEMBERS', rooms)) do
      local key = ARGV[1] .. ':occupancy:' .. member
      if redis.call('SREM', key, node) == 1 and redis.call('SCARD', key) == 0 then
        table.insert(out, member)
      end
    end
    redis.call('DEL', rooms)
    redis.call('SREM', KEYS[1], node)
  end
end
return out
`)

// occupancyMember names a room in the occupancy records.
func occupancyMember(namespace, room string) string {
	return strconv.Itoa(len(namespace)) + ":" + namespace + room
}

// parseOccupancyMember is the inverse of occupancyMember.
func parseOccupancyMember(member string) (namespace, room string, ok bool) {
	length, rest, found := strings.Cut(member, ":")
	n, err := strconv.Atoi(length)
	if !found || err != nil || n < 0 || n > len(rest) {
		return "", "", false
	}
	return rest[:n], rest[n:], true
}

// Occupy implements Occupancy.
func (r *Redis) Occupy(ctx context.Context, namespace, room string) (bool, time.Time, error) {
	return r.changeOccupancy(ctx, occupyScript, namespace, room)
}

// Vacate implements Occupancy.
func (r *Redis) Vacate(ctx context.Context, namespace, room string) (bool, time.Time, error) {
	return r.changeOccupancy(ctx, vacateScript, namespace, room)
}

func (r *Redis) changeOccupancy(ctx context.Context, script *redis.Script, namespace, room string) (bool, time.Time, error) {
	member := occupancyMember(namespace, room)
	keys := []string{r.prefix + occupancyRoom + member, r.prefix + occupancyNode + r.node}
	reply, err := script.Run(ctx, r.client, keys, r.node, member).Int64Slice()
	if err == nil && len(reply) != 3 {
		err = errUnexpectedOccupancy
	}
	if err != nil {
		return false, time.Time{}, fmt.Errorf("room occupancy of %s %q: %w", namespace, room, err)
	}
	return reply[2] == 1, time.Unix(reply[0], reply[1]*1000), nil
}

// errUnexpectedOccupancy is a script reply of the wrong shape.
var errUnexpectedOccupancy = errors.New("unexpected reply from the occupancy script")

// KeepAlive implements Occupancy.
func (r *Redis) KeepAlive(ctx context.Context, ttl time.Duration) (bool, error) {
	keys := []string{r.prefix + occupancyLease + r.node, r.prefix + occupancyNodes}
	rejoined, err := keepAliveScript.Run(ctx, r.client, keys, r.node, ttl.Milliseconds()).Int64()
	if err != nil {
		return false, fmt.Errorf("occupancy lease: %w", err)
	}
	return rejoined == 1, nil
}

// Sweep implements Occupancy.
func (r *Redis) Sweep(ctx context.Context) ([]RoomChange, error) {
	return r.sweep(ctx, "")
}

// Leave implements Occupancy.
func (r *Redis) Leave(ctx context.Context) ([]RoomChange, error) {
	return r.sweep(ctx, r.node)
}

func (r *Redis) sweep(ctx context.Context, leaving string) ([]RoomChange, error) {
	reply, err := sweepScript.Run(ctx, r.client, []string{r.prefix + occupancyNodes}, r.prefix, leaving).StringSlice()
	if err == nil && len(reply) < 2 {
		err = errUnexpectedOccupancy
	}
	if err != nil {
		return nil, fmt.Errorf("occupancy sweep: %w", err)
	}
	sec, errSec := strconv.ParseInt(reply[0], 10, 64)
	usec, errUsec := strconv.ParseInt(reply[1], 10, 64)
	if errSec != nil || errUsec != nil {
		return nil, fmt.Errorf("occupancy sweep: %w", errUnexpectedOccupancy)
	}
	at := time.Unix(sec, usec*1000)
	var vacated []RoomChange
	for _, member := range reply[2:] {
		if namespace, room, ok := parseOccupancyMember(member); ok {
			vacated = append(vacated, RoomChange{Namespace: namespace, Room: room, At: at})
		}
	}
	return vacated, nil
}
