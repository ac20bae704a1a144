package fs

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestLRULoads checks the tree cache's loads: one per key however many
// callers want it at once, none once cached, and a load its caller gave up
// on is made again by a caller still waiting.
func TestLRULoads(t *testing.T) {
	c := newLRU[string, string](1<<10, func(v string) int64 { return int64(len(v)) })
	var loads atomic.Int32
	release := make(chan struct{})
	load := func(ctx context.Context) (string, error) {
		loads.Add(1)
		select {
		case <-release:
			return "tree", nil
		case <-ctx.Done():
			return "", fmt.Errorf("load: %w", ctx.Err())
		}
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if v, err := c.get(context.Background(), "a", load); v != "tree" || err != nil {
				t.Errorf("get: %q, %v", v, err)
			}
		})
	}
	for c.inflightCount() == 0 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Errorf("8 callers at once made %d loads, want 1", n)
	}
	if v, err := c.get(context.Background(), "a", load); v != "tree" || err != nil || loads.Load() != 1 {
		t.Errorf("cached get: %q, %v, %d loads", v, err, loads.Load())
	}

	// The first caller of "b" gives up; the one waiting on its load loads.
	loads.Store(0)
	release = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error)
	go func() {
		_, err := c.get(ctx, "b", load)
		gaveUp <- err
	}()
	for c.inflightCount() == 0 {
		runtime.Gosched()
	}
	waited := make(chan string)
	waiting := &watchedContext{Context: context.Background(), waiting: make(chan struct{})}
	go func() {
		v, err := c.get(waiting, "b", load)
		if err != nil {
			t.Errorf("waiting caller: %v", err)
		}
		waited <- v
	}()
	<-waiting.waiting // on the first caller's load
	cancel()
	if err := <-gaveUp; err == nil {
		t.Error("the caller that gave up got no error")
	}
	close(release)
	if v := <-waited; v != "tree" || loads.Load() != 2 {
		t.Errorf("waiting caller got %q after %d loads, want the tree after 2", v, loads.Load())
	}
}

// inflightCount returns the number of loads under way.
func (c *lru[K, V]) inflightCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.inflight)
}

// watchedContext closes waiting when a caller first waits on it.
type watchedContext struct {
	context.Context
	waiting chan struct{}
	once    sync.Once
}

func (w *watchedContext) Done() <-chan struct{} {
	w.once.Do(func() { close(w.waiting) })
	return w.Context.Done()
}
