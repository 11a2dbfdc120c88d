package sales_test

import (
	"stationdesk/app/demo"
	"stationdesk/offline/ledger"
)

// demoOps are app/demo's accounts as the ledger seeds them.
var demoOps = func() []ledger.DemoOperator {
	var out []ledger.DemoOperator
	for _, d := range demo.Operators() {
		out = append(out, ledger.DemoOperator{Operator: d.Operator, PIN: d.PIN})
	}
	return out
}()
