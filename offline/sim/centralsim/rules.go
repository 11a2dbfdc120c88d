package centralsim

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"

	"stationdesk/app"
	"stationdesk/offline/central"
)

// querier is what both *sql.Tx and *sql.DB offer.
type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

type person struct {
	id           int64
	docKey       string
	docMasked    string
	phone        string
	color        string
	lastNegative sql.NullInt64
	asOf         int64
	welfare      string
}

func findPerson(ctx context.Context, q querier, docKey string) (person, bool, error) {
	var p person
	err := q.QueryRowContext(ctx, `SELECT id, doc_key, doc_masked, phone, color, last_negative, health_as_of, welfare FROM persons WHERE doc_key = ?`, docKey).
		Scan(&p.id, &p.docKey, &p.docMasked, &p.phone, &p.color, &p.lastNegative, &p.asOf, &p.welfare)
	if errors.Is(err, sql.ErrNoRows) {
		return p, false, nil
	}
	return p, err == nil, err
}

type cardRow struct {
	number, kind, form, city string
}

func findCard(ctx context.Context, q querier, number string) (cardRow, bool, error) {
	var c cardRow
	err := q.QueryRowContext(ctx, `SELECT number, kind, form, city FROM cards WHERE number = ?`, number).Scan(&c.number, &c.kind, &c.form, &c.city)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	return c, err == nil, err
}

type bindingRow struct {
	personID int64
	docKey   string
	form     string
	kind     string
	auto     bool
	helper   sql.NullString
	boundAt  int64
}

func findBinding(ctx context.Context, q querier, card string) (bindingRow, bool, error) {
	var b bindingRow
	err := q.QueryRowContext(ctx, `SELECT b.person_id, p.doc_key, b.form, b.kind, b.auto, b.helper_doc_key, b.bound_at
		FROM bindings b JOIN persons p ON p.id = b.person_id WHERE b.card_number = ?`, card).
		Scan(&b.personID, &b.docKey, &b.form, &b.kind, &b.auto, &b.helper, &b.boundAt)
	if errors.Is(err, sql.ErrNoRows) {
		return b, false, nil
	}
	return b, err == nil, err
}

func proxyUses(ctx context.Context, q querier, helperKey string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM proxy_uses WHERE helper_doc_key = ?`, helperKey).Scan(&n)
	return n, err
}

func personBindingList(ctx context.Context, q querier, personID int64) ([]central.WireBinding, error) {
	rows, err := q.QueryContext(ctx, `SELECT card_number, kind, form, auto, helper_doc_key IS NOT NULL, bound_at FROM bindings WHERE person_id = ? ORDER BY bound_at, card_number`, personID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []central.WireBinding{}
	for rows.Next() {
		var num string
		var w central.WireBinding
		var at int64
		if err := rows.Scan(&num, &w.Kind, &w.Form, &w.Auto, &w.ViaProxy, &at); err != nil {
			return nil, err
		}
		w.CardMasked = app.MaskCardNumber(num)
		w.BoundAt = time.UnixMilli(at).UTC()
		out = append(out, w)
	}
	return out, rows.Err()
}

func (s *Server) handlePolicy(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, central.PolicyToWire(s.policy, s.clock.Now()))
}

func (s *Server) cardStatus(ctx context.Context, body []byte) (int, any, *apiError) {
	var req central.WireCardRef
	if e := decodeStrict(body, &req); e != nil {
		return 0, nil, e
	}
	num, e := parseCard(req.CardNumber)
	if e != nil {
		return 0, nil, e
	}
	db := s.db.Read()
	c, ok, err := findCard(ctx, db, num)
	if err != nil {
		return 0, nil, errInternal()
	}
	if !ok {
		return 0, nil, errNotFound("中心系统中没有这张卡。", "Central does not know this card.")
	}
	out := central.WireCardStatus{CardNumber: c.number, Kind: c.kind, Form: c.form, City: c.city,
		Upgradeable: app.CardKind(c.kind).Upgradeable(), Auto: app.CardKind(c.kind).Special()}
	b, bound, err := findBinding(ctx, db, num)
	if err != nil {
		return 0, nil, errInternal()
	}
	if bound {
		out.Bound = true
		var masked string
		if err := db.QueryRowContext(ctx, `SELECT doc_masked FROM persons WHERE id = ?`, b.personID).Scan(&masked); err != nil {
			return 0, nil, errInternal()
		}
		out.HolderDocMasked = masked
	}
	return http.StatusOK, out, nil
}

// changeCard appends a card row to the change feed.
func (s *Server) changeCard(ctx context.Context, tx *sql.Tx, card string, personID int64, bound bool) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO changes(at, card_number, person_id, bound) VALUES (?,?,?,?)`, s.clock.Now().UnixMilli(), card, personID, bound)
	return err
}

func (s *Server) bind(ctx context.Context, tx *sql.Tx, body []byte) (int, any, *apiError) {
	var req central.WireBindRequest
	if e := decodeStrict(body, &req); e != nil {
		return 0, nil, e
	}
	num, e := parseCard(req.CardNumber)
	if e != nil {
		return 0, nil, e
	}
	holder, e := s.parseDoc(req.Holder.DocType, req.Holder.DocNumber)
	if e != nil {
		return 0, nil, e
	}
	var helper app.DocNumber
	if req.Proxy != nil {
		if helper, e = s.parseDoc(req.Proxy.Helper.DocType, req.Proxy.Helper.DocNumber); e != nil {
			return 0, nil, e
		}
		if len(req.Proxy.Code) != 6 || !allDigits(req.Proxy.Code) {
			return 0, nil, &apiError{status: 400, code: "invalid_code", zh: "验证码应为6位数字。", en: "The verification code has 6 digits."}
		}
		if helper.Equal(holder) {
			helper = app.DocNumber{} // helping oneself is an own binding
		}
	}
	c, ok, err := findCard(ctx, tx, num)
	if err != nil {
		return 0, nil, errInternal()
	}
	if !ok {
		return 0, nil, errNotFound("中心系统中没有这张卡。", "Central does not know this card.")
	}
	kind := app.CardKind(c.kind)
	if !kind.Upgradeable() {
		return 0, nil, &apiError{status: 409, code: "card_not_upgradeable", zh: "此类卡不能升级。", en: "Cards of this kind cannot be upgraded.",
			details: map[string]any{"kind": c.kind}}
	}
	if kind.Special() {
		return 0, nil, &apiError{status: 409, code: "special_card_auto", zh: "此卡为特殊卡，已由系统自动升级，无需办理。", en: "This special card is upgraded automatically; nothing to do.",
			details: map[string]any{"kind": c.kind}}
	}
	holderKey := s.docKeyOf(holder)
	existing, bound, err := findBinding(ctx, tx, num)
	if err != nil {
		return 0, nil, errInternal()
	}
	if bound && existing.docKey != holderKey {
		return 0, nil, &apiError{status: 409, code: "card_bound_to_other", zh: "此卡已绑定他人，需先由持卡人解绑。", en: "This card is bound to another person; its holder must unbind it first."}
	}
	p, found, err := findPerson(ctx, tx, holderKey)
	if err != nil {
		return 0, nil, errInternal()
	}
	now := s.clock.Now()
	if bound {
		return http.StatusOK, central.WireBindResult{
			Binding: central.WireBinding{CardMasked: app.MaskCardNumber(num), Kind: existing.kind, Form: existing.form, Auto: existing.auto,
				ViaProxy: existing.helper.Valid, BoundAt: time.UnixMilli(existing.boundAt).UTC()},
			Already: true, HolderDocMasked: p.docMasked,
		}, nil
	}
	if !found {
		// Central creates the real-name record on the first binding
		// (visitors, foreigners): no health-kit account yet.
		res, err := tx.ExecContext(ctx, `INSERT INTO persons(doc_key, doc_type, doc_masked, color, health_as_of) VALUES (?,?,?,?,?)`,
			holderKey, string(holder.Type()), holder.Masked(), string(app.ColorNone), now.UnixMilli())
		if err != nil {
			return 0, nil, errInternal()
		}
		p = person{docKey: holderKey, docMasked: holder.Masked(), color: string(app.ColorNone)}
		if p.id, err = res.LastInsertId(); err != nil {
			return 0, nil, errInternal()
		}
	}
	var other string
	err = tx.QueryRowContext(ctx, `SELECT card_number FROM bindings WHERE person_id = ? AND form = ? AND auto = 0`, p.id, c.form).Scan(&other)
	switch {
	case err == nil:
		formZH := map[string]string{"physical": "实体卡", "nfc": "手机NFC卡"}[c.form]
		return 0, nil, &apiError{status: 409, code: "limit_reached",
			zh:      "此人已绑定一张" + formZH + "，请先解绑旧卡再绑定新卡。",
			en:      "This person already has a " + c.form + " card bound; unbind it first, then bind the new one.",
			details: map[string]any{"existing_card": app.MaskCardNumber(other), "form": c.form}}
	case !errors.Is(err, sql.ErrNoRows):
		return 0, nil, errInternal()
	}
	var helperKey sql.NullString
	used := 0
	if !helper.IsZero() {
		helperKey = sql.NullString{String: s.docKeyOf(helper), Valid: true}
		if used, err = proxyUses(ctx, tx, helperKey.String); err != nil {
			return 0, nil, errInternal()
		}
		if used >= s.policy.ProxyLimit {
			return 0, nil, &apiError{status: 409, code: "proxy_limit_reached",
				zh: "代办人已代办满额，不能再代办。", en: "The helper has used up their proxy upgrades.",
				details: map[string]any{"proxy_used": used, "proxy_limit": s.policy.ProxyLimit}}
		}
		if p.phone == "" {
			return 0, nil, &apiError{status: 409, code: "code_unavailable", zh: "持卡人没有登记手机号，无法代办，请本人办理。", en: "The holder has no phone on record; they must upgrade in person."}
		}
		if req.Proxy.Code != ProxyCodeFor(p.phone) {
			return 0, nil, &apiError{status: 422, code: "code_mismatch", zh: "验证码不正确。", en: "The verification code is wrong."}
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO bindings(card_number, person_id, form, kind, auto, helper_doc_key, bound_at) VALUES (?,?,?,?,0,?,?)`,
		num, p.id, c.form, c.kind, helperKey, now.UnixMilli()); err != nil {
		return 0, nil, errInternal()
	}
	if err := s.changeCard(ctx, tx, num, p.id, true); err != nil {
		return 0, nil, errInternal()
	}
	out := central.WireBindResult{
		Binding:         central.WireBinding{CardMasked: app.MaskCardNumber(num), Kind: c.kind, Form: c.form, ViaProxy: helperKey.Valid, BoundAt: time.UnixMilli(now.UnixMilli()).UTC()},
		HolderDocMasked: p.docMasked,
	}
	if helperKey.Valid {
		if _, err := tx.ExecContext(ctx, `INSERT INTO proxy_uses(helper_doc_key, card_number, at) VALUES (?,?,?)`, helperKey.String, num, now.UnixMilli()); err != nil {
			return 0, nil, errInternal()
		}
		out.ProxyUsed, out.ProxyLimit = used+1, s.policy.ProxyLimit
	}
	return http.StatusCreated, out, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func (s *Server) unbind(ctx context.Context, tx *sql.Tx, body []byte) (int, any, *apiError) {
	var req central.WireUnbindRequest
	if e := decodeStrict(body, &req); e != nil {
		return 0, nil, e
	}
	num, e := parseCard(req.CardNumber)
	if e != nil {
		return 0, nil, e
	}
	holder, e := s.parseDoc(req.Holder.DocType, req.Holder.DocNumber)
	if e != nil {
		return 0, nil, e
	}
	b, bound, err := findBinding(ctx, tx, num)
	if err != nil {
		return 0, nil, errInternal()
	}
	if !bound {
		return 0, nil, errNotFound("此卡未绑定，无需解绑。", "This card is not bound.")
	}
	if b.docKey != s.docKeyOf(holder) {
		return 0, nil, &apiError{status: 409, code: "card_bound_to_other", zh: "此卡绑定的不是该证件持有人。", en: "This card is bound to someone else, not this document's holder."}
	}
	if b.auto {
		return 0, nil, &apiError{status: 409, code: "special_card_auto", zh: "特殊卡由系统自动升级；挂失后自动解绑。", en: "Special cards are upgraded automatically; reporting the card lost unbinds it."}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM bindings WHERE card_number = ?`, num); err != nil {
		return 0, nil, errInternal()
	}
	if err := s.changeCard(ctx, tx, num, b.personID, false); err != nil {
		return 0, nil, errInternal()
	}
	return http.StatusOK, central.WireUnbindResult{CardMasked: app.MaskCardNumber(num), UnboundAt: time.UnixMilli(s.clock.Now().UnixMilli()).UTC()}, nil
}

func (s *Server) holderPerson(ctx context.Context, q querier, w central.WireDoc) (person, bool, *apiError) {
	d, e := s.parseDoc(w.DocType, w.DocNumber)
	if e != nil {
		return person{}, false, e
	}
	p, ok, err := findPerson(ctx, q, s.docKeyOf(d))
	if err != nil {
		return person{}, false, errInternal()
	}
	return p, ok, nil
}

var errNoPhone = &apiError{status: 409, code: "code_unavailable", zh: "持卡人没有登记手机号，无法发送验证码，请本人办理。", en: "The holder has no phone on record; no code can be sent. They must upgrade in person."}

func (s *Server) sendCode(ctx context.Context, tx *sql.Tx, body []byte) (int, any, *apiError) {
	var req central.WireProxyCodeRequest
	if e := decodeStrict(body, &req); e != nil {
		return 0, nil, e
	}
	p, ok, e := s.holderPerson(ctx, tx, req.Holder)
	if e != nil {
		return 0, nil, e
	}
	if !ok || p.phone == "" {
		return 0, nil, errNoPhone
	}
	// The simulator "sends" nothing: the code is ProxyCodeFor(phone).
	return http.StatusOK, central.WireProxyCodeSent{PhoneMasked: maskPhone(p.phone), ExpiresAt: s.clock.Now().Add(10 * time.Minute).UTC()}, nil
}

func (s *Server) verifyCode(ctx context.Context, body []byte) (int, any, *apiError) {
	var req central.WireProxyCodeVerify
	if e := decodeStrict(body, &req); e != nil {
		return 0, nil, e
	}
	p, ok, e := s.holderPerson(ctx, s.db.Read(), req.Holder)
	if e != nil {
		return 0, nil, e
	}
	if !ok || p.phone == "" {
		return 0, nil, errNoPhone
	}
	if req.Code != ProxyCodeFor(p.phone) {
		return 0, nil, &apiError{status: 422, code: "code_mismatch", zh: "验证码不正确。", en: "The verification code is wrong."}
	}
	return http.StatusOK, central.WireValid{Valid: true}, nil
}

func (s *Server) personBindings(ctx context.Context, body []byte) (int, any, *apiError) {
	var req central.WireDoc
	if e := decodeStrict(body, &req); e != nil {
		return 0, nil, e
	}
	d, e := s.parseDoc(req.DocType, req.DocNumber)
	if e != nil {
		return 0, nil, e
	}
	db := s.db.Read()
	key := s.docKeyOf(d)
	out := central.WirePersonBindings{Bindings: []central.WireBinding{}, ProxyLimit: s.policy.ProxyLimit}
	p, ok, err := findPerson(ctx, db, key)
	if err != nil {
		return 0, nil, errInternal()
	}
	if ok {
		if out.Bindings, err = personBindingList(ctx, db, p.id); err != nil {
			return 0, nil, errInternal()
		}
	}
	if out.ProxyUsed, err = proxyUses(ctx, db, key); err != nil {
		return 0, nil, errInternal()
	}
	return http.StatusOK, out, nil
}

func (s *Server) personHealth(ctx context.Context, body []byte) (int, any, *apiError) {
	var req central.WireDoc
	if e := decodeStrict(body, &req); e != nil {
		return 0, nil, e
	}
	p, ok, e := s.holderPerson(ctx, s.db.Read(), req)
	if e != nil {
		return 0, nil, e
	}
	if !ok {
		// Unknown to central: no Beijing health-kit account.
		return http.StatusOK, central.WireHealth{Color: string(app.ColorNone), AsOf: s.clock.Now().UTC()}, nil
	}
	out := central.WireHealth{Color: p.color, AsOf: time.UnixMilli(p.asOf).UTC()}
	if p.lastNegative.Valid {
		t := time.UnixMilli(p.lastNegative.Int64).UTC()
		out.LastNegative = &t
	}
	return http.StatusOK, out, nil
}

func (s *Server) welfare(ctx context.Context, body []byte) (int, any, *apiError) {
	var req central.WireDoc
	if e := decodeStrict(body, &req); e != nil {
		return 0, nil, e
	}
	p, ok, e := s.holderPerson(ctx, s.db.Read(), req)
	if e != nil {
		return 0, nil, e
	}
	if !ok || p.welfare == "" || p.welfare == "none" {
		return http.StatusOK, central.WireWelfare{Eligible: false, Category: "none", ReasonZH: "中心系统未登记福利资格。", ReasonEN: "No welfare eligibility on record."}, nil
	}
	return http.StatusOK, central.WireWelfare{Eligible: true, Category: p.welfare}, nil
}

func (s *Server) recordSale(ctx context.Context, tx *sql.Tx, body []byte) (int, any, *apiError) {
	var req central.WireSale
	if e := decodeStrict(body, &req); e != nil {
		return 0, nil, e
	}
	if req.ID == "" || len(req.ID) > 128 || req.SoldAt.IsZero() || (req.TicketKind != "single_journey" && req.TicketKind != "welfare") {
		return 0, nil, errBadRequest("A sale needs id, sold_at and ticket_kind single_journey or welfare.")
	}
	return s.storeRecord(ctx, tx, "sale", req.ID, body)
}

func (s *Server) recordCheck(ctx context.Context, tx *sql.Tx, body []byte) (int, any, *apiError) {
	var req central.WireManualCheck
	if e := decodeStrict(body, &req); e != nil {
		return 0, nil, e
	}
	if req.ID == "" || len(req.ID) > 128 || req.CheckedAt.IsZero() || (req.Decision != "pass" && req.Decision != "refuse") {
		return 0, nil, errBadRequest("A manual check needs id, checked_at and decision pass or refuse.")
	}
	return s.storeRecord(ctx, tx, "manual_check", req.ID, body)
}

// storeRecord stores a forwarded record; a record id seen before (under a
// different key) is acknowledged again without a second copy.
func (s *Server) storeRecord(ctx context.Context, tx *sql.Tx, kind, id string, body []byte) (int, any, *apiError) {
	now := s.clock.Now()
	res, err := tx.ExecContext(ctx, `INSERT INTO records(kind, station, record_id, body, received_at) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`,
		kind, stationOf(ctx), id, body, now.UnixMilli())
	if err != nil {
		return 0, nil, errInternal()
	}
	status := http.StatusCreated
	if n, _ := res.RowsAffected(); n == 0 {
		status = http.StatusOK
	}
	return status, central.WireRecordAck{ID: id, ReceivedAt: time.UnixMilli(now.UnixMilli()).UTC()}, nil
}

func (s *Server) gateEvents(ctx context.Context, tx *sql.Tx, body []byte) (int, any, *apiError) {
	var req central.WireGateEventBatch
	if e := decodeStrict(body, &req); e != nil {
		return 0, nil, e
	}
	if len(req.Events) > 5000 {
		return 0, nil, &apiError{status: 413, code: "too_large", zh: "批次过大。", en: "At most 5000 events per batch."}
	}
	station := stationOf(ctx)
	var ack central.WireGateEventAck
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO gate_events(station, id, body) VALUES (?,?,?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return 0, nil, errInternal()
	}
	defer stmt.Close()
	for _, ev := range req.Events {
		if ev.GateID == "" || (ev.Decision != "allow" && ev.Decision != "deny" && ev.Decision != "manual") {
			return 0, nil, errBadRequest("Each event needs gate_id and decision allow, deny or manual.")
		}
		res, err := stmt.ExecContext(ctx, station, ev.ID, []byte(ev.Decision+"|"+ev.Reason+"|"+ev.GateID))
		if err != nil {
			return 0, nil, errInternal()
		}
		if n, _ := res.RowsAffected(); n == 1 {
			ack.Accepted++
		} else {
			ack.Duplicates++
		}
	}
	return http.StatusOK, ack, nil
}
