//go:build !unix

package datadir

func setUmask(int) int { return 0 }
