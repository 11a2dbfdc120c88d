package app

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestValidatePIN(t *testing.T) {
	for _, tc := range []struct {
		name, pin, reason string
	}{
		{"OK", "100101", ""},
		{"OKMixed", "802468", ""},
		{"ErrShort", "12345", "pin_format"},
		{"ErrLong", "1234567", "pin_format"},
		{"ErrLetters", "12a456", "pin_format"},
		{"ErrFullWidthDigits", "１２３４５６", "pin_format"},
		{"ErrEmpty", "", "pin_format"},
		{"ErrAllSame", "000000", "pin_weak"},
		{"ErrAscending", "123456", "pin_weak"},
		{"ErrDescending", "987654", "pin_weak"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidatePIN(tc.pin)
			if got := ErrorReason(err); got != tc.reason {
				t.Fatalf("reason = %q, want %q (err %v)", got, tc.reason, err)
			}
			if err != nil && tc.pin != "" && strings.Contains(err.Error()+UserMessage(err, LangZH), tc.pin) {
				t.Error("error text contains the PIN")
			}
		})
	}
}

func TestRole(t *testing.T) {
	for _, r := range Roles {
		if !r.Valid() || r.Label(LangZH) == r.Label(LangEN) || r.Label(LangZH) == "未知角色" {
			t.Errorf("%s: labels %q / %q", r, r.Label(LangZH), r.Label(LangEN))
		}
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%s) = %s, %v", r, got, err)
		}
	}
	if Role("admin").Valid() {
		t.Error("admin is valid")
	}
	if _, err := ParseRole("admin"); ErrorCode(err) != CodeInvalid {
		t.Errorf("ParseRole(admin) err = %v", err)
	}
	if RoleClerk.CanManageOperators() || RoleAssistant.CanBrowseAudit() || !RoleSupervisor.CanManageOperators() {
		t.Error("role rights wrong")
	}
}

func TestValidateOperator(t *testing.T) {
	for _, tc := range []struct {
		name   string
		op     Operator
		reason string
	}{
		{"OK", Operator{ID: "1001", DisplayName: "演示售票员", Role: RoleClerk}, ""},
		{"ErrEmptyID", Operator{DisplayName: "x", Role: RoleClerk}, "operator_id"},
		{"ErrIDWithSpace", Operator{ID: "10 01", DisplayName: "x", Role: RoleClerk}, "operator_id"},
		{"ErrLongID", Operator{ID: strings.Repeat("1", 17), DisplayName: "x", Role: RoleClerk}, "operator_id"},
		{"ErrEmptyName", Operator{ID: "1", Role: RoleClerk}, "display_name"},
		{"ErrControlInName", Operator{ID: "1", DisplayName: "a\nb", Role: RoleClerk}, "display_name"},
		{"ErrLongName", Operator{ID: "1", DisplayName: strings.Repeat("张", 33), Role: RoleClerk}, "display_name"},
		{"ErrRole", Operator{ID: "1", DisplayName: "x", Role: "root"}, "role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ErrorReason(ValidateOperator(tc.op)); got != tc.reason {
				t.Fatalf("reason = %q, want %q", got, tc.reason)
			}
		})
	}
}

func TestOperatorRedactsName(t *testing.T) {
	op := Operator{ID: "1001", DisplayName: "王小明", Role: RoleClerk}
	var sb strings.Builder
	slog.New(slog.NewJSONHandler(&sb, nil)).Info("x", "op", op)
	for _, s := range []string{fmt.Sprint(op), fmt.Sprintf("%v %+v %s", op, op, op), sb.String()} {
		if strings.Contains(s, "王") {
			t.Errorf("display name leaked: %s", s)
		}
		if !strings.Contains(s, "1001") {
			t.Errorf("operator ID missing: %s", s)
		}
	}
}

func TestLoginErrors(t *testing.T) {
	until := time.Date(2022, 5, 20, 9, 45, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		err       error
		reason    string
		remaining int
		until     time.Time
		text      string
	}{
		{"BadPINWithCount", ErrBadPIN(3), "bad_pin", 3, time.Time{}, "3"},
		{"BadPINUnknownOperator", ErrBadPIN(-1), "bad_pin", -1, time.Time{}, "工号或密码错误。"},
		{"Locked", ErrLocked(until), "locked", 0, until, "09:45"},
		{"Disabled", ErrDisabled(), "disabled", -1, time.Time{}, "停用"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ErrorCode(tc.err) != CodeUnauthorized || ErrorReason(tc.err) != tc.reason {
				t.Fatalf("code/reason = %s/%s", ErrorCode(tc.err), ErrorReason(tc.err))
			}
			f, ok := LoginFailureOf(tc.err)
			if !ok || f.Reason != tc.reason || f.Remaining != tc.remaining || !f.LockedUntil.Equal(tc.until) {
				t.Fatalf("LoginFailureOf = %+v, %v", f, ok)
			}
			if !strings.Contains(UserMessage(tc.err, LangZH), tc.text) {
				t.Errorf("message %q lacks %q", UserMessage(tc.err, LangZH), tc.text)
			}
		})
	}
}

func TestLockoutPolicy(t *testing.T) {
	p := DefaultLockoutPolicy()
	now := time.Date(2022, 5, 20, 9, 0, 0, 0, time.UTC)
	for failures := 1; failures <= 6; failures++ {
		locked, until, rem := p.AfterFailure(failures, now)
		wantLocked := failures >= 5
		if locked != wantLocked {
			t.Errorf("failures %d: locked = %v", failures, locked)
		}
		if wantLocked && !until.Equal(now.Add(15*time.Minute)) {
			t.Errorf("failures %d: until = %v", failures, until)
		}
		if !wantLocked && rem != 5-failures {
			t.Errorf("failures %d: remaining = %d", failures, rem)
		}
	}
}

func TestSession(t *testing.T) {
	start := time.Date(2022, 5, 20, 9, 0, 0, 0, time.UTC)
	op := Operator{ID: "1001", Role: RoleClerk}
	t.Run("ActiveWhileTouched", func(t *testing.T) {
		c := NewFakeClock(start)
		s := NewSession(op, c, 0)
		if s.IdleLimit() != DefaultIdleLimit {
			t.Fatalf("idle limit = %v", s.IdleLimit())
		}
		for range 10 {
			c.Advance(4 * time.Minute)
			if !s.Touch() || s.Locked() {
				t.Fatal("locked although touched every 4 minutes")
			}
		}
		if s.IdleRemaining() != 5*time.Minute {
			t.Errorf("IdleRemaining = %v", s.IdleRemaining())
		}
	})
	t.Run("LocksAtIdleLimit", func(t *testing.T) {
		c := NewFakeClock(start)
		s := NewSession(op, c, 5*time.Minute)
		c.Advance(5*time.Minute - time.Second)
		if s.Locked() {
			t.Fatal("locked before the limit")
		}
		c.Advance(time.Second)
		if !s.Locked() || s.IdleRemaining() != 0 {
			t.Fatal("not locked at the limit")
		}
	})
	t.Run("TouchAfterLimitDoesNotRevive", func(t *testing.T) {
		c := NewFakeClock(start)
		s := NewSession(op, c, time.Minute)
		c.Advance(2 * time.Minute)
		if s.Touch() {
			t.Fatal("Touch revived an idle-locked session")
		}
		if !s.Locked() {
			t.Fatal("not locked")
		}
	})
	t.Run("ClockBackwardsStaysLocked", func(t *testing.T) {
		c := NewFakeClock(start)
		s := NewSession(op, c, time.Minute)
		c.Advance(2 * time.Minute)
		if !s.Locked() {
			t.Fatal("not locked")
		}
		c.Set(start)
		if !s.Locked() {
			t.Fatal("clock going back unlocked the session")
		}
	})
	t.Run("ManualLockAndResume", func(t *testing.T) {
		c := NewFakeClock(start)
		s := NewSession(op, c, time.Minute)
		s.Lock()
		if !s.Locked() {
			t.Fatal("Lock did not lock")
		}
		if err := s.Resume(Operator{ID: "2001", Role: RoleAssistant}); ErrorReason(err) != "other_operator" {
			t.Fatalf("other operator resumed: %v", err)
		}
		if !s.Locked() {
			t.Fatal("unlocked by another operator")
		}
		if err := s.Resume(op); err != nil || s.Locked() {
			t.Fatalf("Resume: %v, locked %v", err, s.Locked())
		}
	})
}
