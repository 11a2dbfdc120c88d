package ledger

import "stationdesk/app/demo"

// DemoOperators are app/demo's accounts as SeedDemo takes them.
var DemoOperators = func() []DemoOperator {
	var out []DemoOperator
	for _, d := range demo.Operators() {
		out = append(out, DemoOperator{Operator: d.Operator, PIN: d.PIN})
	}
	return out
}()
