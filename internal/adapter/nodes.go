package adapter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// NodeDirectory is implemented by adapters whose backend can tell the nodes
// of a cluster where each one is reached (cluster.any_node): each node
// holds a lease on its tag, naming its internal address, and renews it
// while it runs; a node that stops renewing drops out when the lease ends.
type NodeDirectory interface {
	// AnnounceNode takes or renews the lease of tag for addr, for ttl. It
	// reports false when another address holds the tag.
	AnnounceNode(ctx context.Context, tag, addr string, ttl time.Duration) (bool, error)
	// LookupNode returns the address of the node holding tag, or "" when
	// none does.
	LookupNode(ctx context.Context, tag string) (string, error)
	// WithdrawNode ends the lease of tag when addr holds it.
	WithdrawNode(ctx context.Context, tag, addr string) error
}

var _ NodeDirectory = (*Redis)(nil)

// announceScript takes or renews the lease KEYS[1] for the address
// ARGV[1], for ARGV[2] milliseconds, unless another address holds it.
var announceScript = redis.NewScript(`
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// withdrawScript deletes the lease KEYS[1] when the address ARGV[1] holds it.
var withdrawScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

func (r *Redis) nodeKey(tag string) string { return r.prefix + ":node:" + tag }

// AnnounceNode implements NodeDirectory with the key "<prefix>:node:<tag>",
// which expires with the lease.
func (r *Redis) AnnounceNode(ctx context.Context, tag, addr string, ttl time.Duration) (bool, error) {
	n, err := announceScript.Run(ctx, r.client, []string{r.nodeKey(tag)}, addr, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("announce node %s: %w", tag, err)
	}
	return n == 1, nil
}

// LookupNode implements NodeDirectory.
func (r *Redis) LookupNode(ctx context.Context, tag string) (string, error) {
	addr, err := r.client.Get(ctx, r.nodeKey(tag)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up node %s: %w", tag, err)
	}
	return addr, nil
}

// WithdrawNode implements NodeDirectory.
func (r *Redis) WithdrawNode(ctx context.Context, tag, addr string) error {
	if err := withdrawScript.Run(ctx, r.client, []string{r.nodeKey(tag)}, addr).Err(); err != nil {
		return fmt.Errorf("withdraw node %s: %w", tag, err)
	}
	return nil
}
