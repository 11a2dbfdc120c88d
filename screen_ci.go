//go:build ci

package main

import "fyne.io/fyne/v2"

// screenArea: the headless driver (-tags ci) has no monitor.
func screenArea(fyne.Window) (fyne.Size, bool) { return fyne.Size{}, false }
