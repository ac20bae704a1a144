package engine

import (
	"context"
	"sync"
	"time"
)

// every calls report every d (default one second) until the returned stop
// is called; stop reports once more, so the final figures are always shown.
func every(ctx context.Context, d time.Duration, report func()) (stop func()) {
	if d <= 0 {
		d = time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				report()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		report()
	}
}
