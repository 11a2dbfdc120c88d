package main

import (
	"fmt"
	"io"

	"stationdesk/assets"
)

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == "example" {
		_, _ = stdout.Write(assets.ConfigExample)
		return 0
	}
	fmt.Fprint(stderr, usage)
	return 2
}
