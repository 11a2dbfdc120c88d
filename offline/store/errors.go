package store

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"stationdesk/app"
)

// Reasons of the *app.Error values this package returns.
const (
	ReasonDiskFull       = "disk_full"
	ReasonDamaged        = "db_damaged"
	ReasonDirMissing     = "data_dir_missing"
	ReasonPathIsDir      = "db_path_is_dir"
	ReasonUnwritable     = "data_dir_unwritable"
	ReasonTooNew         = "db_too_new"
	ReasonBusy           = "db_busy"
	ReasonIO             = "db_io"
	ReasonBadMigration   = "bad_migration"
	ReasonMigrationCheck = "migration_changed"
)

// SQLiteCode returns the primary SQLite result code (e.g. 13 for
// SQLITE_FULL) of the first driver error in err's chain, or 0.
func SQLiteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	var re *RawError
	if errors.As(err, &re) {
		return re.Code & 0xff
	}
	return 0
}

// IsConstraint reports whether err is a SQLite constraint violation
// (UNIQUE, CHECK, FOREIGN KEY, NOT NULL, or a RAISE(ABORT) trigger).
func IsConstraint(err error) bool { return SQLiteCode(err) == sqlite3.SQLITE_CONSTRAINT }

// Classify turns a SQLite failure on the file at path into an *app.Error an
// operator can act on. Errors that are already classified, context errors,
// and SQLite errors with no operator meaning (constraints, SQL mistakes) are
// returned unchanged. The path is named in the message; row contents never
// are.
func Classify(err error, path string) error {
	if err == nil {
		return nil
	}
	var ae *app.Error
	if errors.As(err, &ae) {
		return err
	}
	switch SQLiteCode(err) {
	case sqlite3.SQLITE_FULL:
		return errDiskFull(path, err)
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return errDamaged(path, err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return app.WrapError(err, app.CodeUnavailable, ReasonBusy,
			fmt.Sprintf("数据库文件忙（%s），请稍后重试。", path),
			fmt.Sprintf("Database file is busy (%s). Please try again.", path))
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN:
		return errUnwritable(path, err)
	case sqlite3.SQLITE_IOERR:
		return app.WrapError(err, app.CodeUnavailable, ReasonIO,
			fmt.Sprintf("读写数据库文件出错（%s）。记录未保存，请联系技术支持。", path),
			fmt.Sprintf("Disk error on the database file (%s). Nothing was saved; call technical support.", path))
	}
	return err
}

func errDiskFull(path string, cause error) error {
	return app.WrapError(cause, app.CodeUnavailable, ReasonDiskFull,
		fmt.Sprintf("磁盘已满，记录未保存（%s）。销售与办理已暂停，请清理磁盘空间或联系技术支持。", path),
		fmt.Sprintf("Disk full: nothing was saved (%s). Sales and bindings are stopped; free disk space or call technical support.", path))
}

func errDamaged(path string, cause error) error {
	return app.WrapError(cause, app.CodeInternal, ReasonDamaged,
		fmt.Sprintf("数据库文件已损坏：%s。程序不会使用它，文件已原样保留以供检查。请联系技术支持。", path),
		fmt.Sprintf("Database file is damaged: %s. StationDesk will not use it; the file is left untouched for inspection. Call technical support.", path))
}

func errUnwritable(path string, cause error) error {
	return app.WrapError(cause, app.CodeUnavailable, ReasonUnwritable,
		fmt.Sprintf("无法写入数据文件或其所在文件夹：%s。请检查权限或磁盘。", path),
		fmt.Sprintf("Cannot write the data file or its folder: %s. Check permissions and the disk.", path))
}
