package ledger

import (
	"context"
	"database/sql"
	"path/filepath"

	"stationdesk/app"
	"stationdesk/offline/datadir"
	"stationdesk/offline/store"
)

// demoFolder allows SeedDemo only in the locked demo folder that holds
// this ledger: a production folder can never be opened as one (datadir
// refuses), so a production desk cannot create the demo accounts, whose
// PINs are public.
func (l *Ledger) demoFolder(d *datadir.Dir) error {
	if d == nil || d.Kind() != datadir.Demo {
		return app.NewError(app.CodeUnauthorized, "demo_accounts_production",
			"演示账户只能在演示数据目录中创建。", "Demo accounts are created in a demo data folder only.")
	}
	own, err := filepath.Abs(filepath.Dir(l.db.Path()))
	if err != nil || own != d.Path() {
		return app.NewError(app.CodeUnauthorized, "demo_accounts_production",
			"演示账户只能在演示数据目录中创建（此账本不在该演示目录中）。", "Demo accounts are created in a demo data folder only (this ledger is not in that demo folder).")
	}
	return nil
}

// DemoAccounts lists the accounts of ops (the demo accounts) in the
// ledger: one with an operator number of ops that demo mode created (its
// audit entry says "demo seed") or that still has the demo name. A
// production desk refuses to start when there is one: its PIN is public.
func (l *Ledger) DemoAccounts(ctx context.Context, ops []DemoOperator) ([]string, error) {
	var found []string
	for _, d := range ops {
		var n int
		err := l.db.Read().QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM operators WHERE id = ?1 AND display_name = ?2) +
			(SELECT COUNT(*) FROM operators WHERE id = ?1 AND EXISTS (
				SELECT 1 FROM audit_log WHERE action = ?3 AND subject = ?1 AND detail LIKE 'demo seed%'))`,
			d.ID, d.DisplayName, string(app.ActOperatorCreate)).Scan(&n)
		if err != nil && err != sql.ErrNoRows {
			return nil, store.Classify(err, l.db.Path())
		}
		if n > 0 {
			found = append(found, d.ID)
		}
	}
	return found, nil
}
