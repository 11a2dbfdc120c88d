//go:build race

package main

// raceBuild: the race detector multiplies the memory of the tests that
// start the whole demo terminal; they check the worst case only.
const raceBuild = true
