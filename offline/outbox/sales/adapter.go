package sales

import (
	"context"

	"stationdesk/app"
	"stationdesk/offline/central"
)

// Central adapts *central.Client to the ticket window's app interfaces:
// app.CentralHealth (passed through) and app.CentralWelfare.
type Central struct {
	Client *central.Client
}

var (
	_ app.CentralHealth  = Central{}
	_ app.CentralWelfare = Central{}
)

// HealthStatus implements app.CentralHealth.
func (c Central) HealthStatus(ctx context.Context, doc app.DocNumber) (app.HealthStatus, error) {
	return c.Client.HealthStatus(ctx, doc)
}

// WelfareEligibility implements app.CentralWelfare.
func (c Central) WelfareEligibility(ctx context.Context, doc app.DocNumber) (app.WelfareStatus, error) {
	w, err := c.Client.WelfareEligibility(ctx, doc)
	if err != nil {
		return app.WelfareStatus{}, err
	}
	return app.WelfareStatus{Eligible: w.Eligible, Category: w.Category, ReasonZH: w.ReasonZH, Reason: w.Reason}, nil
}
