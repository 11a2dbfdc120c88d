package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"stationdesk/app"
)

// cmdDoc implements `stationdesk doc check --type TYPE NUMBER`. It exits 0
// only when the number is valid; the output never holds the full number.
func cmdDoc(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("doc check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	typ := fs.String("type", "auto", "document type: auto, "+docTypeNames())
	lang := fs.String("lang", "en", "language of the error message: en or zh")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	// Allow the number before or after --type.
	number := strings.Join(fs.Args(), " ")
	r := app.CheckDocument(*typ, number, app.Lang(*lang))
	writeJSON(stdout, r)
	if !r.Valid {
		return 1
	}
	return 0
}

func docTypeNames() string {
	var s []string
	for _, t := range app.DocTypes {
		s = append(s, string(t))
	}
	return strings.Join(s, ", ")
}
