package app

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
)

// auditActionConstants returns every constant of type AuditAction declared
// in the Go files of dir (app itself, and the ledger's own actions, which
// app names by code).
func auditActionConstants(t *testing.T, dir, typeName string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || vs.Type == nil {
				return true
			}
			var name string
			switch x := vs.Type.(type) {
			case *ast.Ident:
				name = x.Name
			case *ast.SelectorExpr:
				name = x.Sel.Name
			}
			if name != typeName {
				return true
			}
			for i, v := range vs.Values {
				if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					out[s] = vs.Names[i].Name
				}
			}
			return true
		})
	}
	return out
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// TestEveryAuditActionHasSentence: every AuditAction constant (app's and
// the ledger's) reads as a sentence in Chinese and in English, for each
// outcome, and has a name for the filter; a new action without one fails
// here.
func TestEveryAuditActionHasSentence(t *testing.T) {
	acts := auditActionConstants(t, ".", "AuditAction")
	for k, v := range auditActionConstants(t, filepath.Join("..", "offline", "ledger"), "AuditAction") {
		acts[k] = v
	}
	if len(acts) < 30 {
		t.Fatalf("found only %d actions: the scanner is broken", len(acts))
	}
	at := time.Date(2026, 11, 21, 2, 2, 0, 0, time.UTC) // 10:02 in Beijing
	for code, name := range acts {
		if _, ok := auditPhrases[AuditAction(code)]; !ok {
			t.Errorf("%s (%q) has no sentence", name, code)
			continue
		}
		for _, o := range []AuditOutcome{OutcomeSuccess, OutcomeDenied, OutcomeFailure} {
			e := AuditEntry{Time: at, Operator: "1001", Action: AuditAction(code), Outcome: o, Subject: "card:******0001", Detail: "reason=not_eligible"}
			en, zh := AuditSentence(e, LangEN, nil), AuditSentence(e, LangZH, nil)
			if hasHan(en) || strings.Contains(en, code) || strings.Contains(en, "{") || !strings.HasPrefix(en, "10:02 operator 1001 ") {
				t.Errorf("%s %s in English: %q", code, o, en)
			}
			if !hasHan(zh) || strings.Contains(zh, code) || strings.Contains(zh, "{") || !strings.HasPrefix(zh, "10:02 操作员 1001 ") {
				t.Errorf("%s %s in Chinese: %q", code, o, zh)
			}
		}
		if n := AuditActionName(AuditAction(code), LangEN); n == code || hasHan(n) || strings.Contains(n, "{") {
			t.Errorf("%s: English name %q", code, n)
		}
		if n := AuditActionName(AuditAction(code), LangZH); n == code || !hasHan(n) || strings.Contains(n, "{") {
			t.Errorf("%s: Chinese name %q", code, n)
		}
	}
}

// TestAuditSentence: entries as the use cases write them read as the
// supervisor would say them; tokens never appear; an unknown action comes
// back as its raw codes.
func TestAuditSentence(t *testing.T) {
	at := time.Date(2026, 11, 21, 2, 2, 0, 0, time.UTC)
	station := func(code string) string { return map[string]string{"0150": "王府井"}[code] }
	cases := []struct {
		name   string
		e      AuditEntry
		en, zh string
	}{
		{"TicketSale", AuditEntry{Operator: "1001", Action: ActTicketSale, Outcome: OutcomeSuccess, Subject: "doc:0123456789abcdef0123456789abcdef",
			Detail: "issued fare_fen=300 dest=0150 pay=cash token=******0001 assisted=false key=k1"},
			"10:02 operator 1001 sold a single ticket to 王府井, 3.00 yuan, cash, token ******0001.",
			"10:02 操作员 1001 售出单程票（至王府井，3.00元，现金，票卡 ******0001）。"},
		{"BindRefused", AuditEntry{Operator: "2001", Action: ActCardBind, Outcome: OutcomeDenied, Subject: "doc:0123456789abcdef0123456789abcdef card:******0002",
			Detail: "card_bound_to_other"},
			"10:02 operator 2001 tried to bind (upgrade) card ******0002: refused (this card is bound to another person).",
			"10:02 操作员 2001 绑定（升级）卡 ******0002，被拒绝：此卡已绑定其他人。"},
		{"CheckRefusedTheRider", AuditEntry{Operator: "1001", Action: ActBuyerCheck, Outcome: OutcomeDenied, Subject: "doc:0123456789abcdef0123456789abcdef",
			Detail: "decision=refused source=central"},
			"10:02 operator 1001 checked a rider's document and health status, result: refused.",
			"10:02 操作员 1001 核验乘客证件和健康状态（结论：拒绝）。"},
		{"LoginWrongPIN", AuditEntry{Operator: "1001", Action: ActLogin, Outcome: OutcomeFailure, Subject: "1001", Detail: "bad_pin failures=1"},
			"10:02 operator 1001 tried to log in: failed (wrong operator number or PIN).",
			"10:02 操作员 1001 登录，未成功：工号或密码错误。"},
		{"ShiftClose", AuditEntry{Operator: "1001", Action: ActShiftClose, Outcome: OutcomeSuccess, Subject: "shift:7",
			Detail: "tickets=12 welfare=3 checks=20/22 cash_fen=3600 waiting=0"},
			"10:02 operator 1001 closed shift 7, 12 single tickets, 3 welfare tickets, 20/22 checks, cash 36.00 yuan.",
			"10:02 操作员 1001 结班（班次 7）（单程票 12 张，福利票 3 张，核验 20/22，现金 36.00元）。"},
		{"System", AuditEntry{Operator: "system", Action: ActRetentionPurge, Outcome: OutcomeSuccess, Detail: "audit=3 sales=2"},
			"10:02 The system deleted records past their keeping time.",
			"10:02 系统删除超过保存期限的记录。"},
		{"GateAdded", AuditEntry{Operator: "system", Action: ActConfigChange, Outcome: OutcomeSuccess, Subject: "gate:demo-gate-1", Detail: "gate.add"},
			"10:02 The system added gate demo-gate-1.",
			"10:02 系统添加闸机 demo-gate-1。"},
		{"GateModeFromTheCommandLine", AuditEntry{Operator: "2001", Action: ActConfigChange, Outcome: OutcomeSuccess, Subject: "gate.mode", Detail: "from=test to=enforce via=cli"},
			"10:02 operator 2001 switched the gates from test to enforce, from the command line.",
			"10:02 操作员 2001 将闸机从试运行切换为正式（通过命令行）。"},
		{"ReaderPort", AuditEntry{Operator: "2001", Action: ActConfigChange, Outcome: OutcomeSuccess, Subject: "device:idreader", Detail: "port=/dev/ttyUSB0 baud=115200"},
			"10:02 operator 2001 set the ID-card reader to port /dev/ttyUSB0 at 115200 baud.",
			"10:02 操作员 2001 将身份证读卡器设为端口 /dev/ttyUSB0（115200 波特）。"},
		{"AdminToken", AuditEntry{Operator: "2001", Action: ActConfigChange, Outcome: OutcomeSuccess, Subject: "gate.admin-token", Detail: "admin_token.create token=t3"},
			"10:02 operator 2001 created gate admin token t3.",
			"10:02 操作员 2001 创建闸机管理令牌 t3。"},
		{"OtherSetting", AuditEntry{Operator: "2001", Action: ActConfigChange, Outcome: OutcomeSuccess, Subject: "idle_lock", Detail: "minutes=5"},
			"10:02 operator 2001 changed settings (idle_lock).",
			"10:02 操作员 2001 修改设置（idle_lock）。"},
		{"Unknown", AuditEntry{Operator: "1001", Action: "x.new_thing", Outcome: OutcomeSuccess, Subject: "s", Detail: "a=1"},
			"10:02 1001 x.new_thing success s a=1",
			"10:02 1001 x.new_thing success s a=1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.e.Time = at
			if got := AuditSentence(c.e, LangEN, station); got != c.en {
				t.Errorf("en:\n got %q\nwant %q", got, c.en)
			}
			if got := AuditSentence(c.e, LangZH, station); got != c.zh {
				t.Errorf("zh:\n got %q\nwant %q", got, c.zh)
			}
			for _, l := range []Lang{LangEN, LangZH} {
				if s := AuditSentence(c.e, l, station); strings.Contains(s, "0123456789abcdef") || c.name != "Unknown" && strings.Contains(s, "key=") {
					t.Errorf("%s: token or key in %q", l, s)
				}
			}
		})
	}
}
