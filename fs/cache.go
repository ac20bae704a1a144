package fs

import (
	"container/list"
	"context"
	"errors"
	"sync"
)

// lru is a cost-bounded least-recently-used cache with one load per key at
// a time (singleflight). The first caller loads in its own goroutine and
// with its own context: handing each load to a new goroutine woke another
// core per folder a walk opens. If that caller gives up (an interrupted
// request), the callers waiting on its load start one of their own. A
// failed load is not cached.
type lru[K comparable, V any] struct {
	max  int64
	cost func(V) int64

	mu       sync.Mutex
	used     int64
	ll       *list.List // of *lruEntry, front = most recent
	items    map[K]*list.Element
	inflight map[K]*lruCall[V]
}

type lruEntry[K comparable, V any] struct {
	key  K
	val  V
	cost int64
}

type lruCall[V any] struct {
	done chan struct{}
	val  V
	err  error
}

func newLRU[K comparable, V any](max int64, cost func(V) int64) *lru[K, V] {
	return &lru[K, V]{max: max, cost: cost, ll: list.New(),
		items: map[K]*list.Element{}, inflight: map[K]*lruCall[V]{}}
}

// get returns the value of k, loading it if needed.
func (c *lru[K, V]) get(ctx context.Context, k K, load func(context.Context) (V, error)) (V, error) {
	var zero V
	for {
		c.mu.Lock()
		if e, ok := c.items[k]; ok {
			c.ll.MoveToFront(e)
			v := e.Value.(*lruEntry[K, V]).val
			c.mu.Unlock()
			return v, nil
		}
		call, loading := c.inflight[k]
		if !loading {
			call = &lruCall[V]{done: make(chan struct{})}
			c.inflight[k] = call
			c.mu.Unlock()
			c.load(ctx, k, call, load)
			return call.val, call.err
		}
		c.mu.Unlock()
		select {
		case <-call.done:
			if call.err != nil && ctx.Err() == nil && isCancellation(call.err) {
				continue // the caller that loaded gave up, this one has not
			}
			return call.val, call.err
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
}

// load runs one load for k and publishes its result to the waiters.
func (c *lru[K, V]) load(ctx context.Context, k K, call *lruCall[V], load func(context.Context) (V, error)) {
	defer close(call.done)
	call.val, call.err = load(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, k)
	if call.err == nil {
		c.addLocked(k, call.val)
	}
}

// isCancellation reports whether err comes from a context that ended.
func isCancellation(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (c *lru[K, V]) addLocked(k K, v V) {
	cost := c.cost(v)
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return
	}
	c.items[k] = c.ll.PushFront(&lruEntry[K, V]{key: k, val: v, cost: cost})
	c.used += cost
	for c.used > c.max && c.ll.Len() > 1 {
		last := c.ll.Back()
		ent := last.Value.(*lruEntry[K, V])
		c.ll.Remove(last)
		delete(c.items, ent.key)
		c.used -= ent.cost
	}
}

// stats returns the number of entries and their cost.
func (c *lru[K, V]) stats() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len(), c.used
}
