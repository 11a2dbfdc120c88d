package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// RawConn is one SQLite connection driven through SQLite's C API
// (modernc.org/sqlite/lib) instead of database/sql and the driver, for
// point look-ups on a hot path: a prepared RawStmt binds integers, steps
// once and reads integer columns with no allocation, no driver.Rows, no
// column-name strings and no conversion. It answers the gate cache's
// look-ups, where the driver's per-query bookkeeping (fifteen allocations
// and the rows object) cost a quarter of the look-up itself.
//
// A RawConn is not safe for concurrent use: it is opened without SQLite's
// connection mutex, and its libc thread state (the C stack of the
// transpiled SQLite) belongs to whichever goroutine calls it. Its owner
// hands it from goroutine to goroutine (a channel of connections does).
//
// Only integer columns and parameters are supported; that is all a point
// look-up of the cache needs.
type RawConn struct {
	tls      *libc.TLS
	db       uintptr
	stmts    []*RawStmt
	begin    *RawStmt
	rollback *RawStmt
	inTx     bool
	// out receives SQLite's out-parameters (the sqlite3* and sqlite3_stmt*
	// handles): heap memory, which the Go collector never moves, so its
	// address can be handed to the transpiled C as an integer.
	out *uintptr
}

// RawError is an error SQLite returned on a RawConn; SQLiteCode reads its
// code like the driver's errors.
type RawError struct {
	Code int    // extended result code
	Msg  string // sqlite3_errmsg, or the operation that failed
}

func (e *RawError) Error() string {
	return fmt.Sprintf("sqlite: %s (%d)", e.Msg, e.Code)
}

// ErrRawClosed is returned by a RawConn or RawStmt used after Close.
var ErrRawClosed = errors.New("sqlite: raw connection closed")

// OpenRaw opens a connection to the existing SQLite file at path with the
// per-connection settings of o (busy timeout, cache size, mmap size,
// query_only; Immediate and MaxConns do not apply). The file must exist:
// its owner creates it and sets WAL through a pool first.
func OpenRaw(path string, o PoolOptions) (*RawConn, error) {
	if o.BusyTimeout == 0 {
		o.BusyTimeout = 10 * time.Second
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	tls := libc.NewTLS()
	name, err := libc.CString(abs)
	if err != nil {
		tls.Close()
		return nil, err
	}
	c := &RawConn{tls: tls, out: new(uintptr)}
	rc := sqlite3.Xsqlite3_open_v2(tls, name, uintptr(unsafe.Pointer(c.out)), sqlite3.SQLITE_OPEN_READWRITE|sqlite3.SQLITE_OPEN_NOMUTEX, 0)
	c.db, *c.out = *c.out, 0
	libc.Xfree(tls, name)
	if rc != sqlite3.SQLITE_OK {
		err := c.errorFor(rc, "open "+filepath.Base(path))
		c.Close()
		return nil, err
	}
	sqlite3.Xsqlite3_extended_result_codes(tls, c.db, 1)
	if rc := sqlite3.Xsqlite3_busy_timeout(tls, c.db, int32(o.BusyTimeout.Milliseconds())); rc != sqlite3.SQLITE_OK {
		err := c.errorFor(rc, "busy_timeout")
		c.Close()
		return nil, err
	}
	var pragmas []string
	if o.CacheKiB > 0 {
		pragmas = append(pragmas, "PRAGMA cache_size=-"+strconv.Itoa(o.CacheKiB))
	}
	if o.MmapSize > 0 {
		pragmas = append(pragmas, "PRAGMA mmap_size="+strconv.FormatInt(o.MmapSize, 10))
	}
	if o.QueryOnly {
		pragmas = append(pragmas, "PRAGMA query_only=1")
	}
	for _, p := range pragmas {
		if err := c.exec(p); err != nil {
			c.Close()
			return nil, err
		}
	}
	if c.begin, err = c.Prepare("BEGIN"); err == nil {
		c.rollback, err = c.Prepare("ROLLBACK")
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// errorFor builds the error of result code rc, with SQLite's message for
// the connection when it has one.
func (c *RawConn) errorFor(rc int32, op string) error {
	msg := op
	if c.db != 0 {
		if p := sqlite3.Xsqlite3_errmsg(c.tls, c.db); p != 0 {
			msg = op + ": " + libc.GoString(p)
		}
	}
	return &RawError{Code: int(rc), Msg: msg}
}

// exec runs one statement that returns no rows, stepping it to the end.
func (c *RawConn) exec(q string) error {
	s, err := c.Prepare(q)
	if err != nil {
		return err
	}
	defer s.Close()
	for {
		switch rc := sqlite3.Xsqlite3_step(c.tls, s.p); rc {
		case sqlite3.SQLITE_ROW:
			continue
		case sqlite3.SQLITE_DONE:
			return nil
		default:
			sqlite3.Xsqlite3_reset(c.tls, s.p)
			return c.errorFor(rc, q)
		}
	}
}

// Prepare compiles one SQL statement; it is finalized by Close (of the
// statement or the connection).
func (c *RawConn) Prepare(q string) (*RawStmt, error) {
	if c.db == 0 {
		return nil, ErrRawClosed
	}
	zq, err := libc.CString(q)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(c.tls, zq)
	*c.out = 0
	rc := sqlite3.Xsqlite3_prepare_v2(c.tls, c.db, zq, -1, uintptr(unsafe.Pointer(c.out)), 0)
	p := *c.out
	*c.out = 0
	if rc != sqlite3.SQLITE_OK {
		return nil, c.errorFor(rc, "prepare")
	}
	if p == 0 {
		return nil, &RawError{Code: sqlite3.SQLITE_MISUSE, Msg: "prepare: no statement in " + strconv.Quote(q)}
	}
	s := &RawStmt{c: c, p: p, cols: int(sqlite3.Xsqlite3_column_count(c.tls, p)), params: int(sqlite3.Xsqlite3_bind_parameter_count(c.tls, p))}
	c.stmts = append(c.stmts, s)
	return s, nil
}

// Begin starts a deferred transaction: the read snapshot is taken by the
// first statement after it and kept until Rollback.
func (c *RawConn) Begin() error {
	if c.db == 0 {
		return ErrRawClosed
	}
	if err := c.begin.run(); err != nil {
		return err
	}
	c.inTx = true
	return nil
}

// Rollback ends the transaction Begin started; without one it does nothing.
func (c *RawConn) Rollback() error {
	if c.db == 0 || !c.inTx {
		return nil
	}
	c.inTx = false
	return c.rollback.run()
}

// Close finalizes every statement and closes the connection. It is safe to
// call more than once.
func (c *RawConn) Close() error {
	if c.tls == nil {
		return nil
	}
	for _, s := range c.stmts {
		if s.p != 0 {
			sqlite3.Xsqlite3_finalize(c.tls, s.p)
			s.p = 0
		}
	}
	c.stmts = nil
	var err error
	if c.db != 0 {
		if rc := sqlite3.Xsqlite3_close_v2(c.tls, c.db); rc != sqlite3.SQLITE_OK {
			err = c.errorFor(rc, "close")
		}
		c.db = 0
	}
	c.tls.Close()
	c.tls = nil
	return err
}

// RawStmt is a prepared statement of a RawConn.
type RawStmt struct {
	c            *RawConn
	p            uintptr
	cols, params int
}

// ErrRawColumn is returned by QueryRow when a column holds something other
// than an integer or NULL.
var ErrRawColumn = errors.New("sqlite: column is not an integer")

// QueryRow binds args to the statement's parameters in order, steps once
// and, when there is a row, copies its first len(dest) columns into dest
// (a NULL column reads as 0 with null[i] true; null may be nil when no
// column can be NULL). found is false when there is no row. The statement
// is reset before returning, so it holds no lock or snapshot of its own.
func (s *RawStmt) QueryRow(args []int64, dest []int64, null []bool) (found bool, err error) {
	if s.p == 0 || s.c.db == 0 {
		return false, ErrRawClosed
	}
	if len(args) != s.params || len(dest) > s.cols || null != nil && len(null) < len(dest) {
		return false, &RawError{Code: sqlite3.SQLITE_RANGE, Msg: fmt.Sprintf("query with %d args for %d parameters, %d of %d columns", len(args), s.params, len(dest), s.cols)}
	}
	tls, p := s.c.tls, s.p
	for i, a := range args {
		if rc := sqlite3.Xsqlite3_bind_int64(tls, p, int32(i+1), a); rc != sqlite3.SQLITE_OK {
			return false, s.c.errorFor(rc, "bind")
		}
	}
	rc := sqlite3.Xsqlite3_step(tls, p)
	switch rc {
	case sqlite3.SQLITE_ROW:
		for i := range dest {
			switch sqlite3.Xsqlite3_column_type(tls, p, int32(i)) {
			case sqlite3.SQLITE_INTEGER:
				dest[i] = sqlite3.Xsqlite3_column_int64(tls, p, int32(i))
				if null != nil {
					null[i] = false
				}
			case sqlite3.SQLITE_NULL:
				if null == nil {
					sqlite3.Xsqlite3_reset(tls, p)
					return false, ErrRawColumn
				}
				dest[i], null[i] = 0, true
			default:
				sqlite3.Xsqlite3_reset(tls, p)
				return false, ErrRawColumn
			}
		}
		found = true
	case sqlite3.SQLITE_DONE:
	default:
		err = s.c.errorFor(rc, "step")
	}
	sqlite3.Xsqlite3_reset(tls, p)
	return found, err
}

// Each steps the statement (it takes no parameters) through all its rows
// and calls fn with the first len(dest) integer columns of each in dest;
// a NULL or non-integer column ends it with ErrRawColumn. fn returning an
// error stops the walk with that error. The statement is reset before
// Each returns. For scans of whole tables (the gate cache's memory index).
func (s *RawStmt) Each(dest []int64, fn func() error) error {
	if s.p == 0 || s.c.db == 0 {
		return ErrRawClosed
	}
	if s.params != 0 || len(dest) > s.cols {
		return &RawError{Code: sqlite3.SQLITE_RANGE, Msg: fmt.Sprintf("scan of %d columns of %d, %d parameters", len(dest), s.cols, s.params)}
	}
	tls, p := s.c.tls, s.p
	defer sqlite3.Xsqlite3_reset(tls, p)
	for {
		switch rc := sqlite3.Xsqlite3_step(tls, p); rc {
		case sqlite3.SQLITE_ROW:
		case sqlite3.SQLITE_DONE:
			return nil
		default:
			return s.c.errorFor(rc, "step")
		}
		for i := range dest {
			if sqlite3.Xsqlite3_column_type(tls, p, int32(i)) != sqlite3.SQLITE_INTEGER {
				return ErrRawColumn
			}
			dest[i] = sqlite3.Xsqlite3_column_int64(tls, p, int32(i))
		}
		if err := fn(); err != nil {
			return err
		}
	}
}

// run steps a statement without rows to the end.
func (s *RawStmt) run() error {
	if s.p == 0 || s.c.db == 0 {
		return ErrRawClosed
	}
	rc := sqlite3.Xsqlite3_step(s.c.tls, s.p)
	sqlite3.Xsqlite3_reset(s.c.tls, s.p)
	if rc != sqlite3.SQLITE_DONE && rc != sqlite3.SQLITE_ROW {
		return s.c.errorFor(rc, "step")
	}
	return nil
}

// Close finalizes the statement now rather than with the connection.
func (s *RawStmt) Close() {
	if s.p != 0 && s.c.tls != nil {
		sqlite3.Xsqlite3_finalize(s.c.tls, s.p)
		s.p = 0
	}
	for i, o := range s.c.stmts {
		if o == s {
			s.c.stmts = append(s.c.stmts[:i], s.c.stmts[i+1:]...)
			break
		}
	}
}
