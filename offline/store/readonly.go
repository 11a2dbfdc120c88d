package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"stationdesk/app"
)

// ReasonEmpty is the reason OpenReadOnly gives for a 0-byte file.
const ReasonEmpty = "db_empty"

// OpenReadOnly opens the existing SQLite file at path for reading only,
// for checks that must not change the evidence (audit verify): it never
// creates, migrates or writes the file, and works on a read-only folder or
// file. How:
//   - no write-ahead log beside the file: the file is opened with
//     mode=ro&immutable=1, so SQLite creates no -wal or -shm and takes no
//     locks;
//   - a non-empty -wal (a running or killed desk: the newest commits are
//     only in the log): the file and its log are copied into a private
//     temporary folder and the copy is opened, so not even the -shm index
//     of the original changes. A commit made by a running desk while the
//     copy is taken may be missed (run the check again, or on a stopped
//     desk).
//
// close releases the pool and removes a temporary copy. A missing file is
// CodeNotFound "db_missing"; a 0-byte one CodeInvalid ReasonEmpty (SQLite
// would treat it as an empty database); a file that fails quick_check is
// ReasonDamaged.
func OpenReadOnly(ctx context.Context, path string) (db *sql.DB, close func() error, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && st.IsDir():
		return nil, nil, app.WrapError(err, app.CodeNotFound, "db_missing",
			fmt.Sprintf("找不到数据文件：%s。", abs), fmt.Sprintf("Database file not found: %s.", abs))
	case err != nil:
		return nil, nil, app.WrapError(err, app.CodeUnavailable, ReasonIO,
			fmt.Sprintf("无法读取数据文件：%s。", abs), fmt.Sprintf("Cannot read the database file: %s.", abs))
	case st.Size() == 0:
		return nil, nil, app.NewError(app.CodeInvalid, ReasonEmpty,
			fmt.Sprintf("数据文件是空的（0 字节）：%s。", abs), fmt.Sprintf("Database file is empty (0 bytes): %s.", abs))
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "query_only(1)")
	q.Add("_pragma", "busy_timeout(5000)")
	target, cleanup := abs, func() error { return nil }
	walSt, werr := os.Stat(abs + "-wal")
	switch {
	case werr != nil || walSt.Size() == 0:
		q.Set("immutable", "1")
	default:
		tmp, err := os.MkdirTemp("", "stationdesk-verify-*")
		if err != nil {
			return nil, nil, fmt.Errorf("store: temporary copy: %w", err)
		}
		cleanup = func() error { return os.RemoveAll(tmp) }
		target = filepath.Join(tmp, filepath.Base(abs))
		for _, suffix := range []string{"", "-wal"} {
			if err := copyFile(abs+suffix, target+suffix); err != nil {
				cleanup()
				return nil, nil, fmt.Errorf("store: temporary copy of %s: %w", abs, err)
			}
		}
	}
	db, err = sql.Open("sqlite", fileURI(target, q))
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("store: open %s: %w", abs, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		cleanup()
		return nil, nil, Classify(fmt.Errorf("store: open %s read-only: %w", abs, err), abs)
	}
	if err := runCheck(ctx, db, abs, false); err != nil {
		db.Close()
		cleanup()
		return nil, nil, err
	}
	return db, func() error { return errors.Join(db.Close(), cleanup()) }, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
