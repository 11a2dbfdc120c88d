//go:build !linux

package gatesim

import "time"

type absClock struct{}

func newAbsClock(time.Time) absClock { return absClock{} }

func (absClock) sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

func preciseTimerSlack() {}
