// Package deadline runs callbacks at deadlines for many owners with one
// runtime timer per Scheduler. A connection that needs a deadline (its
// heartbeat, its token's expiry) embeds a Timer in its own struct and arms
// it on the server's Scheduler: arming, re-arming and cancelling allocate
// nothing and cost O(log n) in a min-heap, where a time.Timer per
// connection costs an allocation of its own and a runtime timer (about
// 200 bytes each, for connections that are idle almost all of their life).
//
// Timing is exact, as with time.AfterFunc: the runtime timer is armed for
// the earliest deadline, not ticked. Callbacks run one after another on a
// goroutine the runtime timer starts, never under the Scheduler's lock, so
// a callback may arm or cancel any Timer, its own included; a callback must
// not block, as the ones due after it wait for it.
//
// It knows nothing of connections or protocols and imports nothing of the
// module, so that the protocol packages that use it stay on their own.
package deadline
