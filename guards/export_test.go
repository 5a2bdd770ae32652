package guards

// What the external tests of the rate_limit guard's bounded memory need
// from inside: the number of live buckets cannot be seen through Check, and
// reaching the real bound (16 x 4096 keys) takes too long for a unit test.

// RateShards is the number of shards a rate_limit guard spreads its
// buckets over.
const RateShards = rateShards

// RateLimitBuckets returns the number of live buckets of g, a rate_limit
// guard.
func RateLimitBuckets(g Guard) int { return g.(*rateLimitGuard).bucketCount() }

// SetRateLimitShardCapacity lowers the bound of buckets per shard of g, a
// rate_limit guard.
func SetRateLimitShardCapacity(g Guard, n int) { g.(*rateLimitGuard).shardCapacity = n }
