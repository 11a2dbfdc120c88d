package main

import (
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

func cmdVersion(stdout io.Writer) int {
	info := map[string]string{"name": "stationdesk", "version": version, "go": runtime.Version(), "os": runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" || s.Key == "-tags" {
				info[strings.TrimPrefix(s.Key, "-")] = s.Value
			}
		}
		for _, d := range bi.Deps {
			if d.Path == "fyne.io/fyne/v2" {
				info["fyne"] = d.Version
			}
		}
	}
	writeJSON(stdout, info)
	return 0
}
