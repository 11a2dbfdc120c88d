package app

import (
	"fmt"
	"strconv"
	"strings"
)

// Audit entries hold codes (action, outcome, "key=value" details) so that
// technicians and tools can read them exactly; a supervisor reads them as
// sentences. AuditSentence builds the sentence from the entry alone: it
// shows nothing the entry does not hold, and the entry holds only tokens,
// masked numbers and codes (ValidateAuditEntry), so neither does the
// sentence. Opaque tokens (a rider's "doc:…") are never shown in the
// sentence at all, only "a rider".

// auditPhrase is how one action reads: the past form after a success and
// the bare form after "tried to" for a refusal or failure, in English;
// the Chinese verb phrase serves both (the outcome follows it).
type auditPhrase struct{ enPast, enBase, zh string }

// auditPhrases covers every action the desk, the gate service and the
// ledger record. The ledger's own actions (offline/ledger) are listed by
// their codes, as app does not import the ledger.
var auditPhrases = map[AuditAction]auditPhrase{
	ActLogin:             {"logged in", "log in", "登录"},
	ActLogout:            {"logged out", "log out", "退出登录"},
	ActSessionLock:       {"locked the desk", "lock the desk", "锁定终端"},
	ActSessionUnlock:     {"unlocked the desk", "unlock the desk", "解锁终端"},
	ActOperatorCreate:    {"created the operator account {op}", "create the operator account {op}", "新建操作员账号 {op}"},
	ActOperatorSetPIN:    {"set a new PIN for operator {op}", "set a new PIN for operator {op}", "为操作员 {op} 设置新密码"},
	ActOperatorDisable:   {"disabled operator {op}", "disable operator {op}", "停用操作员 {op}"},
	ActOperatorEnable:    {"enabled operator {op}", "enable operator {op}", "启用操作员 {op}"},
	ActOperatorUnlock:    {"lifted the lock-out of operator {op}", "lift the lock-out of operator {op}", "解除操作员 {op} 的锁定"},
	ActShiftOpen:         {"opened a shift", "open a shift", "开班"},
	ActShiftClose:        {"closed shift {shift}", "close shift {shift}", "结班（班次 {shift}）"},
	ActBuyerCheck:        {"checked a rider's document and health status", "check a rider's document and health status", "核验乘客证件和健康状态"},
	ActTicketIssue:       {"started writing a {kind}", "write a {kind}", "写入{kind}"},
	ActTicketSale:        {"sold a single ticket", "sell a single ticket", "售出单程票"},
	ActWelfareExchange:   {"exchanged a welfare ticket", "exchange a welfare ticket", "兑换福利票"},
	ActTicketVoid:        {"voided an unfinished sale", "void an unfinished sale", "作废未完成的售票"},
	ActManualCheck:       {"recorded a manual health check", "record a manual health check", "登记人工健康核验"},
	ActOverride:          {"authorised an exception as supervisor", "authorise an exception as supervisor", "以值班站长身份授权例外"},
	ActCardBind:          {"bound (upgraded) {card}", "bind (upgrade) {card}", "绑定（升级）{card}"},
	ActCardBindQueued:    {"saved the binding of {card} to send when central is back", "save the binding of {card} for later", "保存{card}的绑定，待联网后提交"},
	ActCardUnbind:        {"unbound {card}", "unbind {card}", "解绑{card}"},
	ActCardUnbindQueue:   {"saved the unbinding of {card} to send when central is back", "save the unbinding of {card} for later", "保存{card}的解绑，待联网后提交"},
	ActProxyCodeSend:     {"asked for a proxy verification code", "ask for a proxy verification code", "申请代办验证码"},
	ActCardLookup:        {"looked up {card}", "look up {card}", "查询{card}"},
	ActRevealPI:          {"viewed an unmasked document number", "view an unmasked document number", "查看未遮挡的证件号码"},
	ActGateReject:        {"refused entry at a gate", "refuse entry at a gate", "闸机拒绝进站"},
	ActConfigChange:      {"changed settings ({subject})", "change settings ({subject})", "修改设置（{subject}）"},
	ActRetentionPurge:    {"deleted records past their keeping time", "delete records past their keeping time", "删除超过保存期限的记录"},
	"audit.chain_broken": {"found the audit chain broken", "check the audit chain", "发现审计链断开"},
	"audit.checkpoint":   {"wrote a new audit checkpoint", "write an audit checkpoint", "写入新的审计检查点"},
	"ledger.record":      {"took records without their own audit entry into the chain", "take records into the chain", "将缺少审计记录的记录纳入审计链"},
	"ledger.adopt":       {"took existing records into the audit chain", "take existing records into the audit chain", "将已有记录纳入审计链"},
}

// AuditActionName names an action in l for a filter list ("Card look-up"),
// or returns the code for an action it does not know.
func AuditActionName(a AuditAction, l Lang) string {
	p, ok := auditPhrases[a]
	if !ok {
		return string(a)
	}
	if l == LangEN {
		s := strings.NewReplacer("{op}", "", "{shift}", "", "({subject})", "", "{kind}", "ticket", "{card}", "a card").Replace(p.enBase)
		s = strings.Join(strings.Fields(s), " ")
		return strings.ToUpper(s[:1]) + s[1:]
	}
	s := strings.NewReplacer("{op}", "", "（班次 {shift}）", "", "（{subject}）", "", "{kind}", "车票", "{card}", "卡").Replace(p.zh)
	return strings.Join(strings.Fields(s), "")
}

// AuditSentence renders e in l: "10:02 operator 1001 sold a single ticket
// to 王府井, 3.00 yuan, cash, token ******0001." Station codes are named by
// station (nil, or "" from it, keeps the code). An action it does not know
// comes back as its raw codes, so nothing recorded is ever hidden.
func AuditSentence(e AuditEntry, l Lang, station func(code string) string) string {
	en := l == LangEN
	when := ""
	if !e.Time.IsZero() {
		when = e.Time.In(ChinaTime()).Format("15:04") + " "
	}
	p, ok := auditPhrases[e.Action]
	if !ok {
		return strings.TrimSpace(fmt.Sprintf("%s%s %s %s %s %s", when, e.Operator, e.Action, e.Outcome, e.Subject, e.Detail))
	}
	d := parseAuditDetail(e.Subject, e.Detail)
	if e.Action == ActConfigChange {
		if cp, ok := d.configPhrase(); ok {
			p = cp // names the gate itself, so no "gate …" clause follows
			delete(d.subj, "gate")
		}
	}
	fill := func(s string) string {
		kind := pick(en, "车票", "ticket")
		switch d.kv["kind"] {
		case string(KindSingleJourney):
			kind = pick(en, "单程票", "single ticket")
		case string(KindWelfare):
			kind = pick(en, "福利票", "welfare ticket")
		}
		card := pick(en, "卡", "a card")
		if v := d.subj["card"]; v != "" {
			card = pick(en, "卡 "+v, "card "+v)
		}
		return strings.NewReplacer("{op}", d.subject(""), "{shift}", d.subject("shift"), "{subject}", d.subjectText(), "{kind}", kind, "{card}", card).Replace(s)
	}
	who := auditWho(e.Operator, en)
	to := ""
	if v := d.kv["dest"]; v != "" {
		to = v
		if station != nil {
			if n := station(v); n != "" {
				to = n
			}
		}
	}
	extras := d.extras(e.Action, en, station)
	var reason string
	if e.Outcome != OutcomeSuccess {
		reason = d.reason(en)
	}
	// A check that refused the rider was done: its result says so, and
	// "tried to check …: refused" would read as if the check itself was.
	outcome := e.Outcome
	if outcome == OutcomeDenied && d.kv["decision"] != "" {
		outcome = OutcomeSuccess
	}
	var b strings.Builder
	b.WriteString(when)
	if en {
		b.WriteString(who + " ")
		if outcome == OutcomeSuccess {
			b.WriteString(fill(p.enPast))
		} else {
			b.WriteString("tried to " + fill(p.enBase))
		}
		if to != "" {
			b.WriteString(" to " + to)
		}
		if len(extras) > 0 {
			b.WriteString(", " + strings.Join(extras, ", "))
		}
		switch outcome {
		case OutcomeDenied:
			b.WriteString(": refused")
		case OutcomeFailure:
			b.WriteString(": failed")
		}
		if reason != "" {
			b.WriteString(" (" + reason + ")")
		}
		b.WriteString(".")
		return b.String()
	}
	b.WriteString(who + fill(p.zh))
	if to != "" {
		extras = append([]string{"至" + to}, extras...)
	}
	if len(extras) > 0 {
		b.WriteString("（" + strings.Join(extras, "，") + "）")
	}
	switch outcome {
	case OutcomeDenied:
		b.WriteString("，被拒绝")
	case OutcomeFailure:
		b.WriteString("，未成功")
	}
	if reason != "" {
		b.WriteString("：" + reason)
	}
	b.WriteString("。")
	return b.String()
}

func pick(en bool, zh, eng string) string {
	if en {
		return eng
	}
	return zh
}

// auditWho names the operator field: an operator number, the system, or
// an operator without a session.
func auditWho(op string, en bool) string {
	switch op {
	case "system":
		return pick(en, "系统", "The system")
	case "unknown", "?", "":
		return pick(en, "未登录的操作员", "An operator without a session")
	}
	return pick(en, "操作员 "+op+" ", "operator "+op)
}

// auditDetail is an entry's subject and detail taken apart: "k:v" subject
// parts, "k=v" detail pairs, and the bare words of the detail in order.
type auditDetail struct {
	subj  map[string]string
	kv    map[string]string
	words []string
}

func parseAuditDetail(subject, detail string) auditDetail {
	d := auditDetail{subj: map[string]string{}, kv: map[string]string{}}
	for _, f := range strings.Fields(subject) {
		if k, v, ok := strings.Cut(f, ":"); ok {
			d.subj[k] = v
		} else {
			d.subj[""] = f
		}
	}
	for _, f := range strings.Fields(detail) {
		if k, v, ok := strings.Cut(f, "="); ok {
			d.kv[k] = v
		} else {
			d.words = append(d.words, f)
		}
	}
	return d
}

func (d auditDetail) subject(k string) string { return d.subj[k] }

// subjectText is the subject as a settings name: tokens are left out.
func (d auditDetail) subjectText() string {
	if s := d.subj[""]; s != "" {
		return s
	}
	for k, v := range d.subj {
		if k != "doc" {
			return k + ":" + v
		}
	}
	return "—"
}

// configPhrase says what a settings change changed, for the changes the
// gate service, its command line and the device settings record; ok is
// false for others, which read as "changed settings (subject)".
func (d auditDetail) configPhrase() (p auditPhrase, ok bool) {
	first := ""
	if len(d.words) > 0 {
		first = d.words[0]
	}
	gate, token := d.subj["gate"], d.kv["token"]
	n := d.kv["gates"]
	switch {
	case gate != "" && first == "gate.add":
		return auditPhrase{"added gate " + gate, "add gate " + gate, "添加闸机 " + gate}, true
	case gate != "" && first == "gate.rotate":
		return auditPhrase{"issued a new key to gate " + gate, "issue a new key to gate " + gate, "为闸机 " + gate + " 更换密钥"}, true
	case gate != "" && first == "gate.revoke":
		return auditPhrase{"revoked gate " + gate, "revoke gate " + gate, "吊销闸机 " + gate}, true
	case first == "gate.export" && n != "":
		return auditPhrase{"exported the gate registry (" + n + " gates)", "export the gate registry", "导出闸机登记（" + n + " 台）"}, true
	case first == "gate.import" && n != "":
		return auditPhrase{"imported the gate registry (" + n + " gates)", "import the gate registry", "导入闸机登记（" + n + " 台）"}, true
	case first == "admin_token.create" && token != "":
		delete(d.kv, "token")
		return auditPhrase{"created gate admin token " + token, "create a gate admin token", "创建闸机管理令牌 " + token}, true
	case first == "admin_token.revoke" && token != "":
		delete(d.kv, "token")
		return auditPhrase{"revoked gate admin token " + token, "revoke gate admin token " + token, "吊销闸机管理令牌 " + token}, true
	case d.subj[""] == "gate.mode" && d.kv["from"] != "" && d.kv["to"] != "":
		fz, fe := gateModeNames(GateMode(d.kv["from"]))
		tz, te := gateModeNames(GateMode(d.kv["to"]))
		return auditPhrase{"switched the gates from " + fe + " to " + te, "switch the gates from " + fe + " to " + te, "将闸机从" + fz + "切换为" + tz}, true
	case d.subj[""] == "gate.registry":
		return auditPhrase{"changed the gate registry", "change the gate registry", "修改闸机登记"}, true
	case d.subj[""] == "devices":
		return auditPhrase{"saved the device settings", "save the device settings", "保存设备设置"}, true
	case d.subj["device"] != "" && d.kv["port"] != "":
		zh, en := deviceNames(DeviceKind(d.subj["device"]))
		port := d.kv["port"]
		p := auditPhrase{"set the " + en + " to port " + port, "set the " + en + " to port " + port, "将" + zh + "设为端口 " + port}
		if b := d.kv["baud"]; b != "" && b != "0" {
			p.enPast += " at " + b + " baud"
			p.zh += "（" + b + " 波特）"
		}
		return p, true
	}
	return auditPhrase{}, false
}

// gateModeNames names a gate mode in Chinese and English, as the gates
// screen does.
func gateModeNames(m GateMode) (zh, en string) {
	switch m {
	case ModeOff:
		return "关闭", "off"
	case ModeTest:
		return "试运行", "test"
	case ModeEnforce:
		return "正式", "enforce"
	}
	return string(m), string(m)
}

// deviceNames names a reader in Chinese and English.
func deviceNames(k DeviceKind) (zh, en string) {
	switch k {
	case DeviceIDReader:
		return "身份证读卡器", "ID-card reader"
	case DeviceCardReader:
		return "交通卡读卡器", "transit-card reader"
	case DeviceScanner:
		return "扫码器", "QR scanner"
	}
	return "设备 " + string(k), "device " + string(k)
}

// yuan writes an amount in fen as yuan with two decimals.
func yuan(fen string, en bool) (string, bool) {
	n, err := strconv.ParseInt(fen, 10, 64)
	if err != nil || n < 0 {
		return "", false
	}
	s := fmt.Sprintf("%d.%02d", n/100, n%100)
	return pick(en, s+"元", s+" yuan"), true
}

// extras are the facts of the entry worth a clause, in reading order.
func (d auditDetail) extras(act AuditAction, en bool, station func(string) string) []string {
	var out []string
	add := func(zh, eng string) { out = append(out, pick(en, zh, eng)) }
	if s, ok := yuan(d.kv["fare_fen"], en); ok {
		out = append(out, s)
	}
	if v := d.kv["pay"]; v != "" {
		out = append(out, strings.ToLower(Payment(v).Label(pickLang(en))))
	}
	if v := d.kv["token"]; v != "" {
		add("票卡 "+v, "token "+v)
	}
	if v := d.subj["gate"]; v != "" {
		add("闸机 "+v, "gate "+v)
	}
	if d.kv["assisted"] == "true" {
		add("协助购票", "bought with help")
	}
	if v := d.kv["override"]; v != "" {
		add("值班站长 "+v+" 授权", "authorised by supervisor "+v)
	}
	for _, w := range d.words {
		switch w {
		case "proxy":
			add("代办", "by a helper")
		case "adopted", "resolved":
			add("已确认票卡上的车票", "ticket found on the token and confirmed")
		}
	}
	if v := d.kv["used"]; v != "" {
		add("代办人已用 "+v, "helper has used "+v)
	}
	if v := d.kv["phone"]; v != "" {
		add("验证码发至 "+v, "code sent to "+v)
	}
	if v := d.kv["decision"]; v != "" {
		switch BuyerDecision(v) {
		case BuyerOK:
			add("结论：可售票", "result: may buy")
		case BuyerRefused:
			add("结论：拒绝", "result: refused")
		case BuyerManual:
			add("结论：需人工核验", "result: manual check")
		case BuyerDecision(ManualPass):
			add("结论：放行", "result: passed")
		case BuyerDecision(ManualRefuse):
			add("结论：不放行", "result: refused")
		default:
			add("结论："+v, "result: "+v)
		}
	}
	switch NATWindowState(d.kv["window"]) {
	case NATInside:
		add("核酸在时限内", "test within the time limit")
	case NATOutside:
		add("核酸超出时限", "test outside the time limit")
	case NATFuture:
		add("核酸时间晚于现在", "test time in the future")
	case NATNone:
		add("未给出核酸时间", "no test time given")
	}
	if act == ActShiftClose {
		if v := d.kv["tickets"]; v != "" {
			add("单程票 "+v+" 张", v+" single tickets")
		}
		if v := d.kv["welfare"]; v != "" {
			add("福利票 "+v+" 张", v+" welfare tickets")
		}
		if v := d.kv["checks"]; v != "" {
			add("核验 "+v, v+" checks")
		}
		if s, ok := yuan(d.kv["cash_fen"], en); ok {
			add("现金 "+s, "cash "+s)
		}
		if v := d.kv["waiting"]; v != "" && v != "0" {
			add(v+" 条待上传", v+" waiting to be sent")
		}
	}
	if v := d.kv["role"]; v != "" {
		add("角色 "+Role(v).Label(pickLang(en)), "role "+strings.ToLower(Role(v).Label(pickLang(en))))
	}
	if v := d.kv["at_desk_of"]; v != "" {
		add("在操作员 "+v+" 的窗口", "at the desk of operator "+v)
	}
	if v := d.kv["clerk"]; v != "" {
		add("售票员 "+v, "for clerk "+v)
	}
	if d.kv["via"] == "cli" {
		add("通过命令行", "from the command line")
	}
	return out
}

func pickLang(en bool) Lang {
	if en {
		return LangEN
	}
	return LangZH
}

// reason is why a refused or failed action did not go through: the
// reason code in words where the desk has them, else the code itself.
func (d auditDetail) reason(en bool) string {
	code := d.kv["reason"]
	if code == "" {
		code = d.kv["verify"]
	}
	if code == "" {
		for _, w := range d.words {
			if w != "write" && w != "failed" && w != "forwarded" && w != "unknown" && w != "proxy" && w != "recorded" {
				code = w
				break
			}
		}
	}
	if code == "" || code == "ok" {
		return ""
	}
	if zh, eng, ok := auditReason(code); ok {
		return pick(en, zh, eng)
	}
	// Central's codes have explanations; ExplainReason's catch-all text for
	// a code it does not know would hide the code, so that one is not used.
	if x, other := ExplainReason(code), ExplainReason(""); x.EN != other.EN {
		s := strings.TrimSuffix(strings.TrimSuffix(pick(en, x.ZH, x.EN), "。"), ".")
		if en && s != "" {
			s = strings.ToLower(s[:1]) + s[1:]
		}
		return s
	}
	return code
}

// auditReason words the desk's own reason codes found in audit details.
func auditReason(code string) (zh, en string, ok bool) {
	r, ok := map[string][2]string{
		"not_supervisor":        {"不是值班站长", "not a supervisor"},
		"not_eligible":          {"不符合福利条件", "not eligible"},
		"eligibility_unknown":   {"无法确认福利资格", "eligibility could not be confirmed"},
		"card_not_upgradeable":  {"此类卡不能升级", "cards of this kind cannot be upgraded"},
		"special_card_auto":     {"特殊卡由系统自动升级", "special card, upgraded automatically"},
		"no_outbox":             {"无法保存待提交记录", "nothing to keep it in for later"},
		"ledger_failed":         {"账本写入失败", "the ledger could not be written"},
		"bad_pin":               {"工号或密码错误", "wrong operator number or PIN"},
		"locked":                {"账号已锁定", "account locked"},
		"disabled":              {"账号已停用", "account disabled"},
		"manual_check":          {"需人工核验", "manual check needed"},
		"status_unavailable":    {"健康状态无法查询", "health status could not be asked"},
		"status_stale":          {"健康状态过旧", "health status too old"},
		"expired":               {"证件已过期", "document expired"},
		"birth_mismatch":        {"出生日期不一致", "birth date does not match"},
		"empty":                 {"无数据", "no data"},
		"not_blank":             {"票卡不是空白票", "the token is not blank"},
		"timeout":               {"超时", "timed out"},
		"not_found":             {"未找到", "not found"},
		"offline":               {"中心系统无法连接", "central could not be reached"},
		"invalid_card_number":   {"卡号无效", "invalid card number"},
		"nat_outside_window":    {"核酸结果超出时限", "test result too old"},
		"no_health_account":     {"无健康宝账号", "no health-code account"},
		"code_yellow":           {"黄码", "yellow code"},
		"code_red":              {"红码", "red code"},
		"reader_disconnected":   {"读卡器未连接", "reader disconnected"},
		"reader_not_responding": {"读卡器无响应", "reader not responding"},
	}[code]
	return r[0], r[1], ok
}
