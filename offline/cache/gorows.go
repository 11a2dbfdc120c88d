package cache

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite/vtab"
)

// goRowsModule is a virtual-table module that exposes Go rows to SQL, so a
// whole chunk goes in with one INSERT ... SELECT. Registration is driver-wide
// (every connection the "sqlite" driver opens, not one *sql.DB) and reaches
// only connections opened after it; registering the same name twice is an
// error. Hence init.
const goRowsModule = "stationdesk_gorows"

func init() {
	if err := vtab.RegisterModule(nil, goRowsModule, goRowsMod{}); err != nil {
		panic(err)
	}
}

// goRows feeds one temp virtual table. Each table names its goRows by key
// (first module argument), looked up in goRowsReg.
type goRows struct {
	key  string
	cols string
	n    int                           // rows of the statement in progress
	col  func(row, col int) vtab.Value // value of (row, col): int64, []byte, string, float64 or nil
}

var (
	goRowsReg sync.Map // key -> *goRows
	goRowsSeq atomic.Uint64
)

// newGoRows makes a source with the given column names; call release when
// done (e.g. in Builder.Close).
func newGoRows(cols ...string) *goRows {
	r := &goRows{key: fmt.Sprintf("r%d", goRowsSeq.Add(1)), cols: strings.Join(cols, ", ")}
	goRowsReg.Store(r.key, r)
	return r
}

func (r *goRows) release() { goRowsReg.Delete(r.key) }

// table is the temp virtual table of this source on a connection.
func (r *goRows) table() string { return "temp.gr_" + r.key }

// attach creates the source's temp virtual table on tx's connection if it
// lacks it (temp tables are per connection) and makes it show n rows whose
// values col returns, until the returned reset is called.
func (r *goRows) attach(ctx context.Context, tx *sql.Tx, n int, col func(row, col int) vtab.Value) (reset func(), err error) {
	if _, err := tx.ExecContext(ctx, "CREATE VIRTUAL TABLE IF NOT EXISTS "+r.table()+" USING "+goRowsModule+"("+r.key+", "+r.cols+")"); err != nil {
		return nil, err
	}
	r.n, r.col = n, col
	return func() { r.n, r.col = 0, nil }, nil
}

// exec runs q, in which %s names the source's table (e.g. "INSERT INTO
// card(k, t, person, flags) SELECT k, t, person, flags FROM %s"), in tx with the
// table showing n rows whose values col returns. col is called only during
// exec, on the calling goroutine; blob values are copied by SQLite, so the
// caller may reuse its buffers afterwards.
func (r *goRows) exec(ctx context.Context, tx *sql.Tx, q string, n int, col func(row, col int) vtab.Value) error {
	reset, err := r.attach(ctx, tx, n, col)
	if err != nil {
		return err
	}
	defer reset()
	_, err = tx.ExecContext(ctx, fmt.Sprintf(q, r.table()))
	return err
}

// execN is exec that also reports the rows the statement changed.
func (r *goRows) execN(ctx context.Context, tx *sql.Tx, q string, n int, col func(row, col int) vtab.Value, changed *int64) error {
	reset, err := r.attach(ctx, tx, n, col)
	if err != nil {
		return err
	}
	defer reset()
	res, err := tx.ExecContext(ctx, fmt.Sprintf(q, r.table()))
	if err == nil {
		*changed, err = res.RowsAffected()
	}
	return err
}

// query is exec for a SELECT: each is called for every result row.
func (r *goRows) query(ctx context.Context, tx *sql.Tx, q string, n int, col func(row, col int) vtab.Value, each func(*sql.Rows) error) error {
	reset, err := r.attach(ctx, tx, n, col)
	if err != nil {
		return err
	}
	defer reset()
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(q, r.table()))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

type goRowsMod struct{}

func (goRowsMod) Create(ctx vtab.Context, args []string) (vtab.Table, error) {
	return goRowsMod{}.Connect(ctx, args)
}

// Connect: args are module, database, table, then key and column names.
func (goRowsMod) Connect(ctx vtab.Context, args []string) (vtab.Table, error) {
	if len(args) < 5 {
		return nil, fmt.Errorf("%s: want key and columns, got %q", goRowsModule, args)
	}
	v, ok := goRowsReg.Load(strings.TrimSpace(args[3]))
	if !ok {
		return nil, fmt.Errorf("%s: unknown source %q", goRowsModule, args[3])
	}
	if err := ctx.Declare("CREATE TABLE x(" + strings.Join(args[4:], ",") + ")"); err != nil {
		return nil, err
	}
	return goRowsTable{v.(*goRows)}, nil
}

type goRowsTable struct{ r *goRows }

func (t goRowsTable) BestIndex(info *vtab.IndexInfo) error {
	info.EstimatedCost = float64(t.r.n) + 1
	info.EstimatedRows = int64(t.r.n)
	return nil
}
func (t goRowsTable) Open() (vtab.Cursor, error) { return &goRowsCursor{r: t.r}, nil }
func (goRowsTable) Disconnect() error            { return nil }
func (goRowsTable) Destroy() error               { return nil }

type goRowsCursor struct {
	r *goRows
	i int
}

func (c *goRowsCursor) Filter(int, string, []vtab.Value) error { c.i = 0; return nil }
func (c *goRowsCursor) Next() error                            { c.i++; return nil }
func (c *goRowsCursor) Eof() bool                              { return c.i >= c.r.n }
func (c *goRowsCursor) Column(col int) (vtab.Value, error)     { return c.r.col(c.i, col), nil }
func (c *goRowsCursor) Rowid() (int64, error)                  { return int64(c.i), nil }
func (c *goRowsCursor) Close() error                           { return nil }
