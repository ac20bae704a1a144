package fs

import (
	"container/list"
	"context"
	"sync"
)

// lru is a cost-bounded least-recently-used cache with one load per key at
// a time (singleflight). Loads run on the cache's background context, so a
// waiter that gives up (an interrupted read) does not cancel a fetch other
// readers share. A failed load is not cached.
type lru[K comparable, V any] struct {
	bg   context.Context
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

func newLRU[K comparable, V any](bg context.Context, max int64, cost func(V) int64) *lru[K, V] {
	return &lru[K, V]{bg: bg, max: max, cost: cost, ll: list.New(),
		items: map[K]*list.Element{}, inflight: map[K]*lruCall[V]{}}
}

// peek returns a cached value without loading.
func (c *lru[K, V]) peek(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*lruEntry[K, V]).val, true
	}
	var zero V
	return zero, false
}

// start begins loading k unless it is cached or being loaded, and returns
// the call to wait for (nil if cached).
func (c *lru[K, V]) start(k K, load func(context.Context) (V, error)) (*lruCall[V], V, bool) {
	c.mu.Lock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		v := e.Value.(*lruEntry[K, V]).val
		c.mu.Unlock()
		return nil, v, true
	}
	if call, ok := c.inflight[k]; ok {
		c.mu.Unlock()
		var zero V
		return call, zero, false
	}
	call := &lruCall[V]{done: make(chan struct{})}
	c.inflight[k] = call
	c.mu.Unlock()
	go func() {
		call.val, call.err = load(c.bg)
		c.mu.Lock()
		delete(c.inflight, k)
		if call.err == nil {
			c.addLocked(k, call.val)
		}
		c.mu.Unlock()
		close(call.done)
	}()
	var zero V
	return call, zero, false
}

// get returns the value of k, loading it if needed.
func (c *lru[K, V]) get(ctx context.Context, k K, load func(context.Context) (V, error)) (V, error) {
	call, v, ok := c.start(k, load)
	if ok {
		return v, nil
	}
	select {
	case <-call.done:
		return call.val, call.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// prefetch starts loading k in the background if it is not cached or
// being loaded.
func (c *lru[K, V]) prefetch(k K, load func(context.Context) (V, error)) {
	c.start(k, load)
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
