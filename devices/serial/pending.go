package serial

import (
	"context"
	"sync"
)

// Pending is the queue of callers waiting on a driver: each caller adds a
// request, the driver's session goroutine takes the oldest and answers it
// exactly once, a caller whose context ends withdraws, and a lost port
// answers everyone. The ID-card reader, the transit-card reader and the
// scanner share it. The zero value is ready; it is safe for concurrent
// use.
type Pending[Q, A any] struct {
	mu sync.Mutex
	q  []*Call[Q, A]
}

// Call is one waiting caller: its request and where its answer goes.
type Call[Q, A any] struct {
	Req Q
	ans chan A
}

// Answer delivers the call's answer; call it once, on a call taken with
// Next (it never blocks).
func (c *Call[Q, A]) Answer(a A) { c.ans <- a }

// Add queues a request and returns its call, to pass to Wait.
func (p *Pending[Q, A]) Add(req Q) *Call[Q, A] {
	c := &Call[Q, A]{Req: req, ans: make(chan A, 1)}
	p.mu.Lock()
	p.q = append(p.q, c)
	p.mu.Unlock()
	return c
}

// Wait returns c's answer, or, when ctx ends first, withdraws c and
// returns false, unless the answer was delivered meanwhile.
func (p *Pending[Q, A]) Wait(ctx context.Context, c *Call[Q, A]) (A, bool) {
	select {
	case a := <-c.ans:
		return a, true
	case <-ctx.Done():
	}
	p.mu.Lock()
	for i, x := range p.q {
		if x == c {
			p.q = append(p.q[:i], p.q[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	select {
	case a := <-c.ans: // taken by the driver before the withdrawal
		return a, true
	default:
		var zero A
		return zero, false
	}
}

// Next removes and returns the oldest call, or nil when nobody waits.
func (p *Pending[Q, A]) Next() *Call[Q, A] {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.q) == 0 {
		return nil
	}
	c := p.q[0]
	p.q = p.q[1:]
	return c
}

// Waiting reports whether anybody waits.
func (p *Pending[Q, A]) Waiting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.q) > 0
}

// AnswerAll answers and removes every waiting call (the port went away).
func (p *Pending[Q, A]) AnswerAll(a A) {
	p.mu.Lock()
	q := p.q
	p.q = nil
	p.mu.Unlock()
	for _, c := range q {
		c.Answer(a)
	}
}
