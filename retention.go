package main

import (
	"context"
	"time"
)

// startPurge applies the retention periods (PIPL art. 19, 47) at start and
// then daily: personal data is deleted when its period ends even on a
// terminal that is never restarted.
func (rt *deskRuntime) startPurge(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	rt.closers = append(rt.closers, func() { cancel(); <-done })
	go func() {
		defer close(done)
		t := time.NewTicker(24 * time.Hour)
		defer t.Stop()
		for {
			for _, p := range rt.purgers {
				if err := p(ctx, rt.clock.Now()); err != nil && ctx.Err() == nil {
					rt.log.Warn("retention purge failed", "err", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}
