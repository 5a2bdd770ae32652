package engineio

// fifo is a first-in first-out queue that reuses its slice: a taken slot
// is zeroed (so that it holds on to nothing), the slice restarts at its
// beginning once emptied, and the taken half is reclaimed when the queue
// never empties under load, which would otherwise grow it by every item
// ever pushed. The caller serialises access.
type fifo[T any] struct {
	items []T
	head  int
}

// push queues v.
func (q *fifo[T]) push(v T) { q.items = append(q.items, v) }

// len is the number of items queued.
func (q *fifo[T]) len() int { return len(q.items) - q.head }

// pop takes the oldest item, reporting false when none is queued.
func (q *fifo[T]) pop() (T, bool) {
	var zero T
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
		return zero, false
	}
	v := q.items[q.head]
	q.items[q.head] = zero
	q.head++
	if q.head >= 64 && 2*q.head >= len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return v, true
}
