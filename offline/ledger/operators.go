package ledger

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/argon2"

	"stationdesk/app"
	"stationdesk/offline/datadir"
	"stationdesk/offline/store"
)

// KDFParams are argon2id parameters (RFC 9106). They are stored with each
// PIN hash, so changing the defaults affects new and re-hashed PINs only;
// a login under old parameters re-hashes the PIN with the current ones.
type KDFParams struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
}

// DefaultKDF is argon2id with three passes over 128 MiB, one lane: at
// least 250 ms of CPU per guess on the 2-core terminal, so that even
// someone who has both the ledger and the key file needs about four days
// of one core for the 10^6 six-digit PINs of one account (with the ledger
// alone there is nothing to guess against: the pepper). Measured with
// BenchmarkPINHash on the 2-core development machine while other jobs
// shared it:
//
//	go test -tags x11 -run='^$' -bench=PINHash -benchtime=10x ./offline/ledger/
//
// cpu-ms/op (process CPU time per hash; wall-clock includes waiting for
// a core and went to 1.4 s at a load average of 12 on two cores):
//
//	t=3, 128 MiB (default)  340–380 ms
//	t=2, 128 MiB            230–280 ms (at or under the floor)
//	t=3,  64 MiB            140–170 ms
//	t=1,  64 MiB             50–80 ms (the schema-1 default)
//
// Memory rather than passes because it is what a guessing rig pays for.
// One lane because the terminal has two cores shared with the GUI and the
// gate service. A login runs off the UI goroutine, so the desk stays
// responsive while it hashes; 128 MiB per concurrent login is fine on a
// desk terminal.
var DefaultKDF = KDFParams{Time: 3, MemoryKiB: 128 * 1024, Threads: 1}

// PIN hash schemes (the operators.kdf column).
const (
	// schemeLegacy is argon2id over the PIN alone (schema 1): a copied
	// ledger.db is enough to guess against. Re-hashed at the next
	// successful login.
	schemeLegacy = "argon2id"
	// schemePepper1 is argon2id over HMAC-SHA256(Keys.PINKey, PIN): the
	// PIN key lives in the 0600 station key file, never in ledger.db, so
	// the file alone gives nothing to guess against.
	schemePepper1 = "argon2id+pepper1"
)

const (
	pinSaltLen = 16
	pinHashLen = 32
)

// hashPIN is the PIN hash under scheme with the row's salt and parameters;
// nil for a scheme this program does not know.
func (k *Keys) hashPIN(scheme, pin string, salt []byte, p KDFParams) []byte {
	var password []byte
	switch scheme {
	case schemeLegacy:
		password = []byte(pin)
	case schemePepper1:
		m := hmac.New(sha256.New, k.PINKey())
		m.Write([]byte(pin))
		password = m.Sum(nil)
	default:
		return nil
	}
	return argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, pinHashLen)
}

// newPINHash hashes pin under the current scheme with a fresh salt.
func (k *Keys) newPINHash(pin string, p KDFParams) (salt, hash []byte, err error) {
	salt = make([]byte, pinSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, nil, fmt.Errorf("ledger: salt: %w", err)
	}
	return salt, k.hashPIN(schemePepper1, pin, salt, p), nil
}

type opRow struct {
	op          app.Operator
	scheme      string
	kdf         KDFParams
	salt, hash  []byte
	failures    int
	lockedUntil int64
}

const opCols = `id, display_name, role, disabled, kdf, kdf_time, kdf_memory_kib, kdf_threads, pin_salt, pin_hash, failed_attempts, locked_until_ms`

func scanOp(r scanner) (opRow, error) {
	var o opRow
	var role string
	var disabled int
	err := r.Scan(&o.op.ID, &o.op.DisplayName, &role, &disabled, &o.scheme, &o.kdf.Time, &o.kdf.MemoryKiB, &o.kdf.Threads,
		&o.salt, &o.hash, &o.failures, &o.lockedUntil)
	o.op.Role, o.op.Disabled = app.Role(role), disabled != 0
	return o, err
}

func (l *Ledger) getOp(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (opRow, bool, error) {
	o, err := scanOp(q.QueryRowContext(ctx, "SELECT "+opCols+" FROM operators WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return o, false, nil
	}
	if err != nil {
		return o, false, store.Classify(fmt.Errorf("ledger: read operator: %w", err), l.db.Path())
	}
	return o, true, nil
}

// auditOperatorField is what a login attempt records as the operator: the
// typed number if it is shaped like one, else "?" (never arbitrary input,
// which could be a PIN or an ID number typed into the wrong box).
func auditOperatorField(id string) string {
	if app.ValidOperatorID(id) {
		return id
	}
	return "?"
}

// Login implements app.Authenticator. The PIN is checked with argon2id
// outside any transaction; the counter update and the audit entry then
// commit together. Unknown operators cost the same hashing time as known
// ones and get the same "bad_pin" wording without a count. A lock-out
// (Options.Lockout, default 5 failures → 15 minutes) is stored in the
// file and so survives restarts. Every attempt is audited
// (operator.login: success / failure / denied). If the audit entry cannot
// be written (e.g. disk full) the login fails with that error, whatever
// the PIN.
func (l *Ledger) Login(ctx context.Context, id, pin string) (app.Operator, error) {
	now := l.clock.Now()
	row, found, err := l.getOp(ctx, l.db.Read(), id)
	if err != nil {
		return app.Operator{}, err
	}
	audit := func(tx *sql.Tx, outcome app.AuditOutcome, detail string) error {
		_, err := l.AppendTx(ctx, tx, app.AuditEntry{Time: now, Operator: auditOperatorField(id), Action: app.ActLogin,
			Subject: auditOperatorField(id), Outcome: outcome, Detail: detail})
		return err
	}
	if !found || !app.ValidOperatorID(id) {
		salt := make([]byte, pinSaltLen)
		l.keys.hashPIN(schemePepper1, pin, salt, l.opts.KDF) // same cost as a real check
		if err := l.write(ctx, func(tx *sql.Tx) error { return audit(tx, app.OutcomeFailure, "unknown operator") }); err != nil {
			return app.Operator{}, err
		}
		return app.Operator{}, app.ErrBadPIN(-1)
	}
	if row.op.Disabled {
		if err := l.write(ctx, func(tx *sql.Tx) error { return audit(tx, app.OutcomeDenied, "account disabled") }); err != nil {
			return app.Operator{}, err
		}
		return app.Operator{}, app.ErrDisabled()
	}
	if row.lockedUntil > ms(now) {
		until := fromMS(row.lockedUntil).In(now.Location())
		if err := l.write(ctx, func(tx *sql.Tx) error { return audit(tx, app.OutcomeDenied, "account locked") }); err != nil {
			return app.Operator{}, err
		}
		return app.Operator{}, app.ErrLocked(until)
	}
	got := l.keys.hashPIN(row.scheme, pin, row.salt, row.kdf)
	good := got != nil && subtle.ConstantTimeCompare(got, row.hash) == 1

	var result error
	err = l.write(ctx, func(tx *sql.Tx) error {
		// Re-read inside the transaction: a parallel attempt or a
		// supervisor may have changed the account meanwhile.
		cur, found, err := l.getOp(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case !found:
			result = app.ErrBadPIN(-1)
			return audit(tx, app.OutcomeFailure, "unknown operator")
		case cur.op.Disabled:
			result = app.ErrDisabled()
			return audit(tx, app.OutcomeDenied, "account disabled")
		case cur.lockedUntil > ms(now):
			result = app.ErrLocked(fromMS(cur.lockedUntil).In(now.Location()))
			return audit(tx, app.OutcomeDenied, "account locked")
		case good:
			if _, err := tx.ExecContext(ctx, "UPDATE operators SET failed_attempts = 0, locked_until_ms = 0, last_login_ms = ? WHERE id = ?", ms(now), id); err != nil {
				return err
			}
			if cur.kdf != l.opts.KDF || cur.scheme != schemePepper1 {
				// Migrate: an old scheme or old parameters are re-hashed
				// now, while the PIN is known (the operator.login entry
				// of this transaction covers the changed row).
				salt, hash, err := l.keys.newPINHash(pin, l.opts.KDF)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, "UPDATE operators SET kdf = ?, kdf_time = ?, kdf_memory_kib = ?, kdf_threads = ?, pin_salt = ?, pin_hash = ? WHERE id = ?",
					schemePepper1, l.opts.KDF.Time, l.opts.KDF.MemoryKiB, l.opts.KDF.Threads, salt, hash, id); err != nil {
					return err
				}
			}
			return audit(tx, app.OutcomeSuccess, "")
		}
		var failures int
		if err := tx.QueryRowContext(ctx, "UPDATE operators SET failed_attempts = failed_attempts + 1 WHERE id = ? RETURNING failed_attempts", id).Scan(&failures); err != nil {
			return err
		}
		locked, until, remaining := l.opts.Lockout.AfterFailure(failures, now)
		if locked {
			if _, err := tx.ExecContext(ctx, "UPDATE operators SET failed_attempts = 0, locked_until_ms = ? WHERE id = ?", ms(until), id); err != nil {
				return err
			}
			result = app.ErrLocked(until)
			return audit(tx, app.OutcomeDenied, fmt.Sprintf("wrong PIN %d times: locked until %s", failures, until.UTC().Format(time.RFC3339)))
		}
		result = app.ErrBadPIN(remaining)
		return audit(tx, app.OutcomeFailure, fmt.Sprintf("wrong PIN (%d of %d)", failures, l.opts.Lockout.MaxFailures))
	})
	if err != nil {
		return app.Operator{}, store.Classify(fmt.Errorf("ledger: login: %w", err), l.db.Path())
	}
	if result != nil {
		return app.Operator{}, result
	}
	return row.op, nil
}

func errNotSupervisor() error {
	return app.NewError(app.CodeUnauthorized, "not_supervisor", "只有值班站长可以管理账户。", "Only the duty supervisor can manage accounts.")
}

func errOpNotFound() error {
	return app.NewError(app.CodeNotFound, "operator_not_found", "找不到该工号。", "No operator with that number.")
}

// authorize checks in tx that by is an active account with the right to
// manage operators (or, when self is allowed, is the target itself).
func (l *Ledger) authorize(ctx context.Context, tx *sql.Tx, by app.Operator, target string, selfOK bool) error {
	cur, found, err := l.getOp(ctx, tx, by.ID)
	if err != nil {
		return err
	}
	if !found || cur.op.Disabled {
		return errNotSupervisor()
	}
	if cur.op.Role.CanManageOperators() || (selfOK && by.ID == target) {
		return nil
	}
	return errNotSupervisor()
}

func (l *Ledger) insertOp(ctx context.Context, tx *sql.Tx, op app.Operator, pin string, now time.Time) error {
	salt, hash, err := l.keys.newPINHash(pin, l.opts.KDF)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO operators(id, display_name, role, disabled, kdf, kdf_time, kdf_memory_kib, kdf_threads, pin_salt, pin_hash, created_ms, pin_changed_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		op.ID, op.DisplayName, string(op.Role), op.Disabled, schemePepper1, l.opts.KDF.Time, l.opts.KDF.MemoryKiB, l.opts.KDF.Threads, salt, hash, ms(now), ms(now))
	if store.IsConstraint(err) {
		return app.NewError(app.CodeConflict, "operator_exists", "该工号已存在。", "An operator with that number already exists.")
	}
	return err
}

// CreateOperator adds an account (app.OperatorAdmin). by must be an active
// supervisor. Errors: CodeInvalid (app.ValidateOperator, app.ValidatePIN),
// CodeUnauthorized "not_supervisor", CodeConflict "operator_exists".
func (l *Ledger) CreateOperator(ctx context.Context, by app.Operator, op app.Operator, pin string) error {
	if err := app.ValidateOperator(op); err != nil {
		return err
	}
	if err := app.ValidatePIN(pin); err != nil {
		return err
	}
	now := l.clock.Now()
	return l.write(ctx, func(tx *sql.Tx) error {
		if err := l.authorize(ctx, tx, by, op.ID, false); err != nil {
			return err
		}
		if err := l.insertOp(ctx, tx, op, pin, now); err != nil {
			return err
		}
		_, err := l.AppendTx(ctx, tx, app.AuditEntry{Time: now, Operator: by.ID, Action: app.ActOperatorCreate, Subject: op.ID,
			Outcome: app.OutcomeSuccess, Detail: "role=" + string(op.Role)})
		return err
	})
}

// CreateFirstSupervisor creates the first account of a new installation.
// It refuses (CodeConflict "already_initialised") once any account exists;
// after that, accounts are created by a supervisor.
func (l *Ledger) CreateFirstSupervisor(ctx context.Context, op app.Operator, pin string) error {
	op.Role = app.RoleSupervisor
	if err := app.ValidateOperator(op); err != nil {
		return err
	}
	if err := app.ValidatePIN(pin); err != nil {
		return err
	}
	now := l.clock.Now()
	return l.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM operators").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return app.NewError(app.CodeConflict, "already_initialised", "已有账户，请由值班站长创建新账户。", "Accounts exist already; a supervisor creates new ones.")
		}
		if err := l.insertOp(ctx, tx, op, pin, now); err != nil {
			return err
		}
		_, err := l.AppendTx(ctx, tx, app.AuditEntry{Time: now, Operator: "system", Action: app.ActOperatorCreate, Subject: op.ID,
			Outcome: app.OutcomeSuccess, Detail: "first supervisor"})
		return err
	})
}

// SetPIN sets id's PIN and clears its lock-out. An active operator may set
// their own PIN; a supervisor anyone's. Errors as CreateOperator, plus
// CodeNotFound "operator_not_found".
func (l *Ledger) SetPIN(ctx context.Context, by app.Operator, id, pin string) error {
	if err := app.ValidatePIN(pin); err != nil {
		return err
	}
	salt, hash, err := l.keys.newPINHash(pin, l.opts.KDF)
	if err != nil {
		return err
	}
	now := l.clock.Now()
	return l.write(ctx, func(tx *sql.Tx) error {
		if err := l.authorize(ctx, tx, by, id, true); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE operators SET kdf = ?, kdf_time = ?, kdf_memory_kib = ?, kdf_threads = ?, pin_salt = ?, pin_hash = ?,
			pin_changed_ms = ?, failed_attempts = 0, locked_until_ms = 0 WHERE id = ?`,
			schemePepper1, l.opts.KDF.Time, l.opts.KDF.MemoryKiB, l.opts.KDF.Threads, salt, hash, ms(now), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errOpNotFound()
		}
		_, err = l.AppendTx(ctx, tx, app.AuditEntry{Time: now, Operator: by.ID, Action: app.ActOperatorSetPIN, Subject: id, Outcome: app.OutcomeSuccess})
		return err
	})
}

// setFlag runs a supervisor-only change of one account.
func (l *Ledger) setFlag(ctx context.Context, by app.Operator, id string, action app.AuditAction, stmt string, args ...any) error {
	now := l.clock.Now()
	return l.write(ctx, func(tx *sql.Tx) error {
		if err := l.authorize(ctx, tx, by, id, false); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, stmt, append(args, id)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errOpNotFound()
		}
		var active int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM operators WHERE role = 'supervisor' AND disabled = 0").Scan(&active); err != nil {
			return err
		}
		if active == 0 {
			return app.NewError(app.CodeConflict, "last_supervisor", "不能停用最后一个值班站长账户。", "Cannot disable the last supervisor account.")
		}
		_, err = l.AppendTx(ctx, tx, app.AuditEntry{Time: now, Operator: by.ID, Action: action, Subject: id, Outcome: app.OutcomeSuccess})
		return err
	})
}

// Disable disables an account (supervisor only). Its audit entries stay.
// Disabling the last active supervisor is CodeConflict "last_supervisor".
func (l *Ledger) Disable(ctx context.Context, by app.Operator, id string) error {
	return l.setFlag(ctx, by, id, app.ActOperatorDisable, "UPDATE operators SET disabled = 1 WHERE id = ?")
}

// Enable re-enables a disabled account (supervisor only).
func (l *Ledger) Enable(ctx context.Context, by app.Operator, id string) error {
	return l.setFlag(ctx, by, id, app.ActOperatorEnable, "UPDATE operators SET disabled = 0 WHERE id = ?")
}

// Unlock lifts a lock-out and clears the failure counter (supervisor only).
func (l *Ledger) Unlock(ctx context.Context, by app.Operator, id string) error {
	return l.setFlag(ctx, by, id, app.ActOperatorUnlock, "UPDATE operators SET failed_attempts = 0, locked_until_ms = 0 WHERE id = ?")
}

// ListOperators returns every account by ID, without PIN data.
func (l *Ledger) ListOperators(ctx context.Context) ([]app.Operator, error) {
	rows, err := l.db.Read().QueryContext(ctx, "SELECT "+opCols+" FROM operators ORDER BY id")
	if err != nil {
		return nil, store.Classify(fmt.Errorf("ledger: list operators: %w", err), l.db.Path())
	}
	defer rows.Close()
	var out []app.Operator
	for rows.Next() {
		o, err := scanOp(rows)
		if err != nil {
			return nil, store.Classify(err, l.db.Path())
		}
		out = append(out, o.op)
	}
	return out, store.Classify(rows.Err(), l.db.Path())
}

// DemoOperator is a demo account to seed (the demo data live in app/demo,
// outside every production package). Its PIN is public.
type DemoOperator struct {
	app.Operator
	PIN string
}

// SeedDemo creates the accounts of ops that do not exist yet; existing
// accounts (even with changed PINs) are left alone, so it is idempotent.
// Each is audited "demo seed", which is how DemoAccounts finds them. It
// returns how many accounts it created. Only in the demo folder dir that
// holds this ledger (see demoFolder).
func (l *Ledger) SeedDemo(ctx context.Context, dir *datadir.Dir, ops []DemoOperator) (int, error) {
	if err := l.demoFolder(dir); err != nil {
		return 0, err
	}
	now := l.clock.Now()
	created := 0
	err := l.write(ctx, func(tx *sql.Tx) error {
		created = 0
		for _, d := range ops {
			_, found, err := l.getOp(ctx, tx, d.ID)
			if err != nil {
				return err
			}
			if found {
				continue
			}
			if err := l.insertOp(ctx, tx, d.Operator, d.PIN, now); err != nil {
				return err
			}
			if _, err := l.AppendTx(ctx, tx, app.AuditEntry{Time: now, Operator: "system", Action: app.ActOperatorCreate, Subject: d.ID,
				Outcome: app.OutcomeSuccess, Detail: "demo seed, role=" + string(d.Role)}); err != nil {
				return err
			}
			created++
		}
		return nil
	})
	return created, err
}
