package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"time"

	"stationdesk/app"
)

// Migration is one embedded schema step.
type Migration struct {
	Version int
	Name    string // file name, e.g. "0001_init.sql"
	SQL     string
	Sum     string // hex SHA-256 of SQL, recorded when applied
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// ParseMigrationName returns the version of a migration file name
// ("0007_outbox.sql" → 7). Names must be four digits, an underscore,
// lowercase letters, digits or underscores, and ".sql".
func ParseMigrationName(name string) (int, error) {
	m := migrationName.FindStringSubmatch(name)
	if m == nil {
		return 0, fmt.Errorf("store: migration file %q is not named NNNN_name.sql", name)
	}
	v, _ := strconv.Atoi(m[1])
	if v == 0 {
		return 0, fmt.Errorf("store: migration file %q: numbering starts at 0001", name)
	}
	return v, nil
}

func loadMigrations(fsys fs.FS) ([]Migration, error) {
	if fsys == nil {
		return nil, nil
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries { // ReadDir sorts by name
		if e.IsDir() {
			continue
		}
		v, err := ParseMigrationName(e.Name())
		if err != nil {
			return nil, err
		}
		if v != len(out)+1 {
			return nil, fmt.Errorf("store: migration %s: expected version %04d (no gaps or duplicates)", e.Name(), len(out)+1)
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b), Sum: hex.EncodeToString(sum[:])})
	}
	return out, nil
}

const schemaMigrationsDDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT    NOT NULL,
	sha256     TEXT    NOT NULL,
	applied_at TEXT    NOT NULL
) STRICT`

// migrate applies the migrations the file lacks, each in its own
// transaction together with its schema_migrations row, so a crash leaves
// every migration either fully applied and recorded or not at all.
func migrate(ctx context.Context, db *DB, migs []Migration, clock app.Clock, after func(context.Context, *sql.Tx, int) error) error {
	if err := db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, schemaMigrationsDDL)
		return err
	}); err != nil {
		return fmt.Errorf("store: create schema_migrations in %s: %w", db.path, err)
	}
	applied := map[int]string{}
	maxApplied := 0
	rows, err := db.writer.QueryContext(ctx, "SELECT version, sha256 FROM schema_migrations")
	if err != nil {
		return Classify(fmt.Errorf("store: read schema_migrations in %s: %w", db.path, err), db.path)
	}
	for rows.Next() {
		var v int
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			rows.Close()
			return Classify(err, db.path)
		}
		applied[v] = sum
		maxApplied = max(maxApplied, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Classify(err, db.path)
	}
	if maxApplied > len(migs) {
		return app.NewError(app.CodeInternal, ReasonTooNew,
			fmt.Sprintf("数据文件 %s 来自较新版本的站务台（数据库版本 %d，本程序只认识到 %d）。请升级程序，不要用旧版本打开。", db.path, maxApplied, len(migs)),
			fmt.Sprintf("Data file %s was written by a newer StationDesk (schema %d, this program knows up to %d). Upgrade the program; do not open it with an older one.", db.path, maxApplied, len(migs)))
	}
	for _, m := range migs {
		if sum, ok := applied[m.Version]; ok {
			if sum != m.Sum {
				db.log.Warn("applied migration differs from the embedded file", "file", db.path, "migration", m.Name)
			}
			continue
		}
		err := db.WriteTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("store: migration %s on %s: %w", m.Name, db.path, err)
			}
			if after != nil {
				if err := after(ctx, tx, m.Version); err != nil {
					return fmt.Errorf("store: after migration %s on %s: %w", m.Name, db.path, err)
				}
			}
			_, err := tx.ExecContext(ctx,
				"INSERT INTO schema_migrations(version, name, sha256, applied_at) VALUES (?, ?, ?, ?)",
				m.Version, m.Name, m.Sum, clock.Now().UTC().Format(time.RFC3339Nano))
			return err
		})
		if err != nil {
			return err
		}
		db.log.Info("migration applied", "file", db.path, "migration", m.Name)
	}
	return nil
}

// SchemaVersion returns the highest applied migration version.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := db.reader.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v)
	return int(v.Int64), Classify(err, db.path)
}
