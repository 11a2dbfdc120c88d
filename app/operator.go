package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Role is what an operator may do at the desk. Each role sees only its
// screens (GB/T 22239 8.1.4.2: least privilege, separate admin and
// operator roles); there is no shared "counter" account.
type Role string

// The roles of the desk.
const (
	RoleClerk      Role = "clerk"      // 售票员: ticket window (sales, welfare tickets, manual checks)
	RoleAssistant  Role = "assistant"  // 客服: service desk (upgrades, unbinding, card look-up)
	RoleSupervisor Role = "supervisor" // 值班站长: everything, plus accounts, overrides and the audit log
)

// Roles lists the roles in display order.
var Roles = []Role{RoleClerk, RoleAssistant, RoleSupervisor}

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool {
	return r == RoleClerk || r == RoleAssistant || r == RoleSupervisor
}

// Label returns the role's name for the screen in l.
func (r Role) Label(l Lang) string {
	labels, ok := roleLabels[r]
	if !ok {
		labels = [2]string{"未知角色", "Unknown role"}
	}
	if l == LangEN {
		return labels[1]
	}
	return labels[0]
}

var roleLabels = map[Role][2]string{
	RoleClerk:      {"售票员", "Ticket clerk"},
	RoleAssistant:  {"客服", "Service-desk assistant"},
	RoleSupervisor: {"值班站长", "Duty supervisor"},
}

// ParseRole accepts the stable role names ("clerk", "assistant",
// "supervisor"); anything else is CodeInvalid "role".
func ParseRole(s string) (Role, error) {
	if r := Role(s); r.Valid() {
		return r, nil
	}
	return "", NewError(CodeInvalid, "role", "未知的角色。", "Unknown role.")
}

// CanManageOperators reports whether r may create accounts, set other
// operators' PINs, disable accounts and lift lock-outs.
func (r Role) CanManageOperators() bool { return r == RoleSupervisor }

// CanBrowseAudit reports whether r may browse and verify the audit log.
func (r Role) CanBrowseAudit() bool { return r == RoleSupervisor }

// Operator is a staff account. ID is the operator number (工号) typed at
// login and written to every audit entry. DisplayName is a staff member's
// name and therefore personal information: String and LogValue leave it
// out, and the audit log never records it.
type Operator struct {
	ID          string
	DisplayName string
	Role        Role
	Disabled    bool
}

// String returns "operator 1001 (clerk)" without the display name.
func (o Operator) String() string { return fmt.Sprintf("operator %s (%s)", o.ID, o.Role) }

// LogValue logs the operator ID and role only.
func (o Operator) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", o.ID), slog.String("role", string(o.Role)))
}

// ValidateOperator checks an account before it is stored: ID is 1–16 ASCII
// letters or digits; DisplayName 1–32 characters without control
// characters; Role is defined. Errors are CodeInvalid with reasons
// "operator_id", "display_name", "role".
func ValidateOperator(o Operator) error {
	if !ValidOperatorID(o.ID) {
		return NewError(CodeInvalid, "operator_id", "工号须为1–16位字母或数字。", "Operator number must be 1–16 letters or digits.")
	}
	n := utf8.RuneCountInString(o.DisplayName)
	bad := n == 0 || n > 32 || !utf8.ValidString(o.DisplayName)
	for _, r := range o.DisplayName {
		if unicode.IsControl(r) {
			bad = true
		}
	}
	if bad {
		return NewError(CodeInvalid, "display_name", "姓名须为1–32个字符。", "Display name must be 1–32 characters.")
	}
	if !o.Role.Valid() {
		return NewError(CodeInvalid, "role", "未知的角色。", "Unknown role.")
	}
	return nil
}

// ValidOperatorID reports whether id is 1–16 ASCII letters or digits.
func ValidOperatorID(id string) bool {
	if len(id) == 0 || len(id) > 16 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// PINLength is the length of every operator PIN.
//
// Why six digits: with the lock-out policy (5 failures → 15 minutes) an
// attacker at the counter gets at most 480 guesses a day, so guessing one
// of the 10^6 PINs takes on average about three years of continuous
// trying, and every failure is audited. Four digits would fall in days;
// longer PINs are typed dozens of times a shift at a busy window. The
// PIN is one factor; GB/T 22239 level 3 asks for a second, cryptographic
// one (a staff card on the reader), which is not built yet.
const PINLength = 6

// ValidatePIN checks a new PIN: exactly PINLength ASCII digits, not all the
// same digit, not a straight run up or down (123456, 987654). Errors are
// CodeInvalid "pin_format" or "pin_weak". The PIN never appears in the
// error.
func ValidatePIN(pin string) error {
	if len(pin) != PINLength {
		return errPINFormat()
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return errPINFormat()
		}
	}
	same, up, down := true, true, true
	for i := 1; i < len(pin); i++ {
		d := int(pin[i]) - int(pin[i-1])
		same = same && d == 0
		up = up && d == 1
		down = down && d == -1
	}
	if same || up || down {
		return NewError(CodeInvalid, "pin_weak",
			"密码过于简单（不能全部相同或连续）。",
			"PIN too simple (no repeated or consecutive digits only).")
	}
	return nil
}

func errPINFormat() error {
	return NewError(CodeInvalid, "pin_format",
		fmt.Sprintf("密码须为%d位数字。", PINLength),
		fmt.Sprintf("The PIN must be %d digits.", PINLength))
}

// Authenticator checks an operator's PIN. Login returns the operator on
// success. Failures are CodeUnauthorized *Error values with reason
// "bad_pin" (unknown operator or wrong PIN; LoginFailureOf gives the
// attempts left, -1 when unknown), "locked" (LoginFailureOf gives the
// time the lock ends), or "disabled". Every attempt is audited by the
// implementation. It must be safe for concurrent use.
type Authenticator interface {
	Login(ctx context.Context, id, pin string) (Operator, error)
}

// OperatorAdmin is what the supervisor's account screen needs. by is the
// logged-in operator performing the change; implementations refuse (CodeUnauthorized
// "not_supervisor") unless by may manage operators, except that any active
// operator may set their own PIN. Every change is audited.
type OperatorAdmin interface {
	ListOperators(ctx context.Context) ([]Operator, error)
	CreateOperator(ctx context.Context, by Operator, op Operator, pin string) error
	SetPIN(ctx context.Context, by Operator, id, pin string) error
	Disable(ctx context.Context, by Operator, id string) error
	Enable(ctx context.Context, by Operator, id string) error
	// Unlock lifts a lock-out and clears the failure counter.
	Unlock(ctx context.Context, by Operator, id string) error
}

// LoginFailure is the detail inside a failed login's *Error (its Err).
type LoginFailure struct {
	Reason      string    // "bad_pin", "locked", "disabled"
	Remaining   int       // attempts left before lock-out; -1 if not told
	LockedUntil time.Time // zero unless Reason is "locked"
}

func (f *LoginFailure) Error() string { return "login: " + f.Reason }

// LoginFailureOf returns the detail of a failed login.
func LoginFailureOf(err error) (LoginFailure, bool) {
	var f *LoginFailure
	if errors.As(err, &f) {
		return *f, true
	}
	return LoginFailure{}, false
}

// ErrBadPIN is the error for an unknown operator or a wrong PIN.
// remaining < 0 means "do not tell" (unknown operator numbers get the same
// wording, so the message does not reveal which numbers exist).
func ErrBadPIN(remaining int) error {
	zh, en := "工号或密码错误。", "Wrong operator number or PIN."
	if remaining >= 0 {
		zh = fmt.Sprintf("工号或密码错误，还可尝试%d次。", remaining)
		en = fmt.Sprintf("Wrong operator number or PIN; %d attempts left.", remaining)
	}
	return WrapError(&LoginFailure{Reason: "bad_pin", Remaining: remaining}, CodeUnauthorized, "bad_pin", zh, en)
}

// ErrLocked is the error for a locked account; until is shown as HH:MM in
// its own location.
func ErrLocked(until time.Time) error {
	return WrapError(&LoginFailure{Reason: "locked", Remaining: 0, LockedUntil: until}, CodeUnauthorized, "locked",
		fmt.Sprintf("密码错误次数过多，账户已锁定至 %s。请稍后再试或联系值班站长解锁。", until.Format("15:04")),
		fmt.Sprintf("Too many wrong PINs: the account is locked until %s. Try later or ask the duty supervisor to unlock it.", until.Format("15:04")))
}

// ErrDisabled is the error for a disabled account.
func ErrDisabled() error {
	return WrapError(&LoginFailure{Reason: "disabled", Remaining: -1}, CodeUnauthorized, "disabled",
		"该账户已停用，请联系值班站长。", "This account is disabled. Ask the duty supervisor.")
}

// LockoutPolicy says when repeated wrong PINs lock an account (GB/T 22239
// 8.1.4.1 "limit failed attempts"). The store persists the counter so a
// restart does not reset it.
type LockoutPolicy struct {
	MaxFailures int           // consecutive failures that lock the account
	LockFor     time.Duration // how long it stays locked
}

// DefaultLockoutPolicy locks after 5 consecutive failures for 15 minutes.
func DefaultLockoutPolicy() LockoutPolicy {
	return LockoutPolicy{MaxFailures: 5, LockFor: 15 * time.Minute}
}

// AfterFailure takes the number of consecutive failures including this one
// and returns whether the account is now locked and until when, and how
// many attempts remain otherwise.
func (p LockoutPolicy) AfterFailure(failures int, now time.Time) (locked bool, until time.Time, remaining int) {
	if p.MaxFailures <= 0 {
		p = DefaultLockoutPolicy()
	}
	if failures >= p.MaxFailures {
		return true, now.Add(p.LockFor), 0
	}
	return false, time.Time{}, p.MaxFailures - failures
}

// DefaultIdleLimit is how long a session may sit untouched before it locks.
const DefaultIdleLimit = 5 * time.Minute

// Session is a logged-in operator at the desk. It locks itself after
// IdleLimit without activity (GB/T 22239 8.1.4.1 "log out automatically
// on idle timeout"); the UI calls Touch on every input
// event and checks Locked on a ticker and before every action. A locked
// session is resumed only by the same operator after re-authenticating.
// Safe for concurrent use.
type Session struct {
	mu      sync.Mutex
	op      Operator
	clock   Clock
	idle    time.Duration
	started time.Time
	last    time.Time
	locked  bool
}

// NewSession starts a session for op, just authenticated. idle <= 0 means
// DefaultIdleLimit.
func NewSession(op Operator, clock Clock, idle time.Duration) *Session {
	if idle <= 0 {
		idle = DefaultIdleLimit
	}
	now := clock.Now()
	return &Session{op: op, clock: clock, idle: idle, started: now, last: now}
}

// Operator returns the session's operator.
func (s *Session) Operator() Operator { return s.op }

// Started returns when the session began.
func (s *Session) Started() time.Time { return s.started }

// IdleLimit returns the idle time after which the session locks.
func (s *Session) IdleLimit() time.Duration { return s.idle }

// Touch records operator activity. It returns false and changes nothing if
// the session is already locked: input arriving after the idle limit does
// not revive it.
func (s *Session) Touch() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if s.lockedAt(now) {
		s.locked = true
		return false
	}
	s.last = now
	return true
}

// Locked reports whether the session is locked (explicitly or idle for
// IdleLimit or longer). A clock that went backwards does not unlock it.
func (s *Session) Locked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lockedAt(s.clock.Now()) {
		s.locked = true
	}
	return s.locked
}

func (s *Session) lockedAt(now time.Time) bool {
	return s.locked || now.Sub(s.last) >= s.idle
}

// IdleRemaining returns the time left before the idle lock, 0 if locked.
func (s *Session) IdleRemaining() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if s.lockedAt(now) {
		return 0
	}
	return s.idle - now.Sub(s.last)
}

// Lock locks the session now (the operator pressed "lock" or walked away).
func (s *Session) Lock() {
	s.mu.Lock()
	s.locked = true
	s.mu.Unlock()
}

// Resume unlocks the session for op, whom the caller has just
// re-authenticated through an Authenticator. A different operator may not
// take over the session (CodeUnauthorized "other_operator"): they must end
// it and log in themselves, so every action stays attributed.
func (s *Session) Resume(op Operator) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op.ID != s.op.ID {
		return NewError(CodeUnauthorized, "other_operator",
			"只有本会话的操作员可以解锁；请先退出再以自己的工号登录。",
			"Only this session's operator can unlock it; log out and log in with your own number.")
	}
	s.op = op
	s.locked = false
	s.last = s.clock.Now()
	return nil
}
