package app

import (
	"context"
	"sync"
)

// keyedOnce runs one call per idempotency key at a time: a second call with
// a key already in flight (a double click on confirm, a retry while the
// first is still waiting for central) waits for the first and returns its
// result instead of acting twice. The zero value is ready to use; it is
// safe for concurrent use.
type keyedOnce[R any] struct {
	mu       sync.Mutex
	inflight map[string]*keyedCall[R]
}

type keyedCall[R any] struct {
	done    chan struct{}
	res     R
	err     error
	sharers int // callers waiting on this call (under keyedOnce.mu)
}

// do runs fn for key unless a call with that key is in flight. A waiting
// caller whose ctx ends gets CodeUnavailable "cancelled"; the first call
// goes on.
func (o *keyedOnce[R]) do(ctx context.Context, key string, fn func() (R, error)) (R, error) {
	o.mu.Lock()
	if c, ok := o.inflight[key]; ok {
		c.sharers++
		o.mu.Unlock()
		select {
		case <-c.done:
			return c.res, c.err
		case <-ctx.Done():
			var zero R
			return zero, WrapError(ctx.Err(), CodeUnavailable, "cancelled", "操作已取消。", "Cancelled.")
		}
	}
	if o.inflight == nil {
		o.inflight = make(map[string]*keyedCall[R])
	}
	c := &keyedCall[R]{done: make(chan struct{})}
	o.inflight[key] = c
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		delete(o.inflight, key)
		o.mu.Unlock()
		close(c.done)
	}()
	c.res, c.err = fn()
	return c.res, c.err
}

// sharing reports how many callers are waiting on the call in flight for
// key (0 when none is). The tests use it to know the callers they started
// have all joined the first one.
func (o *keyedOnce[R]) sharing(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c, ok := o.inflight[key]; ok {
		return c.sharers
	}
	return 0
}
