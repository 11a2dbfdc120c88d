package serial

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestPendingOrderWithdrawAndAnswerAll(t *testing.T) {
	var p Pending[int, string]
	a, b := p.Add(1), p.Add(2)
	if c := p.Next(); c != a || c.Req != 1 {
		t.Fatal("not oldest first")
	}
	a.Answer("one")
	if got, ok := p.Wait(context.Background(), a); !ok || got != "one" {
		t.Fatalf("answer %q %v", got, ok)
	}
	// b's caller gives up: withdrawn, nothing delivered.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if got, ok := p.Wait(ctx, b); ok || got != "" || p.Waiting() {
		t.Fatalf("withdrawn call: %q %v, still waiting %v", got, ok, p.Waiting())
	}
	// A call the driver took just before the caller gave up still gets
	// its answer.
	c := p.Add(3)
	p.Next().Answer("three")
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if got, ok := p.Wait(done, c); !ok || got != "three" {
		t.Fatalf("answer delivered meanwhile lost: %q %v", got, ok)
	}
	// Port lost: everyone waiting is answered.
	var wg sync.WaitGroup
	got := make([]string, 3)
	for i := range got {
		call := p.Add(i)
		wg.Add(1)
		go func() { defer wg.Done(); got[i], _ = p.Wait(context.Background(), call) }()
	}
	p.AnswerAll("gone")
	wg.Wait()
	for i, g := range got {
		if g != "gone" {
			t.Fatalf("waiter %d got %q", i, g)
		}
	}
	if p.Next() != nil {
		t.Fatal("queue not empty after AnswerAll")
	}
}
