package centralsim

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"stationdesk/app"
)

// Rider is a person the simulator knows, with their cards. Doc and Name
// are personal information: the simulator stores only Doc's keyed hash and
// masked copies. Phone is the (fictitious) phone verification codes go to;
// empty means no phone on record (proxy binding impossible).
type Rider struct {
	Key     string // demo key, e.g. "green-fresh"; unique
	Doc     app.DocNumber
	Name    app.Name
	Phone   string
	Health  app.HealthStatus
	Welfare string // welfare category ("elderly", "disability", …) or ""
	Cards   []RiderCard
	// ProxyUsed records that many earlier proxy bindings by this rider
	// as a helper (seed data for the "n of 5 used" display).
	ProxyUsed int
}

// RiderCard is a card central knows. Bound pre-binds an ordinary card to
// the rider; special cards are always bound to their rider automatically.
// A card with Bound false is known to central but not bound to anyone.
type RiderCard struct {
	Card  app.Card
	Bound bool
}

// AddRider stores r and its cards (one transaction). A rider whose key or
// document is already stored is an error; a card already known is an
// error. Special cards are auto-bound; Bound ordinary cards are bound (the
// one-per-form rule applies). Used for seeding and by tests/benchmarks.
func (s *Server) AddRider(ctx context.Context, r Rider) error {
	return s.AddRiders(ctx, []Rider{r})
}

// AddRiders stores several riders in one transaction.
func (s *Server) AddRiders(ctx context.Context, rs []Rider) error {
	now := s.clock.Now()
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		for _, r := range rs {
			if r.Doc.IsZero() {
				return errors.New("centralsim: rider without document")
			}
			color := r.Health.Color
			if color == "" {
				color = app.ColorNone
			}
			var lastNeg sql.NullInt64
			if !r.Health.LastNegative.IsZero() {
				lastNeg = sql.NullInt64{Int64: r.Health.LastNegative.UnixMilli(), Valid: true}
			}
			asOf := r.Health.AsOf
			if asOf.IsZero() {
				asOf = now
			}
			var demoKey sql.NullString
			if r.Key != "" {
				demoKey = sql.NullString{String: r.Key, Valid: true}
			}
			welfare := r.Welfare
			if welfare == "" {
				welfare = "none"
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO persons(demo_key, doc_key, doc_type, doc_masked, name_masked, phone, color, last_negative, health_as_of, welfare)
				VALUES (?,?,?,?,?,?,?,?,?,?)`, demoKey, s.docKeyOf(r.Doc), string(r.Doc.Type()), r.Doc.Masked(), r.Name.Masked(), r.Phone,
				string(color), lastNeg, asOf.UnixMilli(), welfare)
			if err != nil {
				return fmt.Errorf("centralsim: add rider %q: %w", r.Key, err)
			}
			pid, err := res.LastInsertId()
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO changes(at, person_id, color, last_negative) VALUES (?,?,?,?)`, now.UnixMilli(), pid, string(color), lastNeg); err != nil {
				return err
			}
			if err := addProxyUses(ctx, tx, s.docKeyOf(r.Doc), r.ProxyUsed, now); err != nil {
				return err
			}
			for _, c := range r.Cards {
				num, err := app.ParseCardNumber(c.Card.Number)
				if err != nil {
					return fmt.Errorf("centralsim: rider %q: card: %w", r.Key, err)
				}
				form := c.Card.Form
				if form == "" {
					form = app.FormPhysical
				}
				var owner sql.NullInt64
				special := c.Card.Kind.Special()
				if special || c.Bound {
					owner = sql.NullInt64{Int64: pid, Valid: true}
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO cards(number, kind, form, city, owner_id) VALUES (?,?,?,?,?)`,
					num, string(c.Card.Kind), string(form), c.Card.City, owner); err != nil {
					return fmt.Errorf("centralsim: rider %q: card %s: %w", r.Key, app.MaskCardNumber(num), err)
				}
				if special || (c.Bound && c.Card.Kind.Upgradeable()) {
					if _, err := tx.ExecContext(ctx, `INSERT INTO bindings(card_number, person_id, form, kind, auto, bound_at) VALUES (?,?,?,?,?,?)`,
						num, pid, string(form), string(c.Card.Kind), special, now.UnixMilli()); err != nil {
						return fmt.Errorf("centralsim: rider %q: bind card %s: %w", r.Key, app.MaskCardNumber(num), err)
					}
					if _, err := tx.ExecContext(ctx, `INSERT INTO changes(at, card_number, person_id, bound) VALUES (?,?,?,1)`, now.UnixMilli(), num, pid); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

// AddCard makes an unbound card known to central (e.g. a new card a rider
// brings to the desk).
func (s *Server) AddCard(ctx context.Context, c app.Card) error {
	num, err := app.ParseCardNumber(c.Number)
	if err != nil {
		return err
	}
	if c.Form == "" {
		c.Form = app.FormPhysical
	}
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO cards(number, kind, form, city) VALUES (?,?,?,?)`, num, string(c.Kind), string(c.Form), c.City)
		return err
	})
}

// SetHealth changes a stored rider's health status (by demo key) and
// appends a person change for the gate-cache sync. CodeNotFound when no
// rider has key.
func (s *Server) SetHealth(ctx context.Context, key string, h app.HealthStatus) error {
	switch h.Color {
	case app.ColorGreen, app.ColorYellow, app.ColorRed, app.ColorNone:
	default:
		return app.NewError(app.CodeInvalid, "color", "健康码颜色无效。", "Invalid health colour.")
	}
	now := s.clock.Now()
	if h.AsOf.IsZero() {
		h.AsOf = now
	}
	var lastNeg sql.NullInt64
	if !h.LastNegative.IsZero() {
		lastNeg = sql.NullInt64{Int64: h.LastNegative.UnixMilli(), Valid: true}
	}
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var pid int64
		err := tx.QueryRowContext(ctx, `UPDATE persons SET color = ?, last_negative = ?, health_as_of = ? WHERE demo_key = ? RETURNING id`,
			string(h.Color), lastNeg, h.AsOf.UnixMilli(), key).Scan(&pid)
		if errors.Is(err, sql.ErrNoRows) {
			return app.NewError(app.CodeNotFound, "rider", "没有此演示乘客。", "No such demo rider.")
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO changes(at, person_id, color, last_negative) VALUES (?,?,?,?)`, now.UnixMilli(), pid, string(h.Color), lastNeg)
		return err
	})
}

// ProxyCode returns the verification code of the demo rider key (the code
// central would send to their phone). CodeNotFound for an unknown key or a
// rider without a phone.
func (s *Server) ProxyCode(ctx context.Context, key string) (string, error) {
	var phone string
	err := s.db.Read().QueryRowContext(ctx, `SELECT phone FROM persons WHERE demo_key = ?`, key).Scan(&phone)
	if err != nil || phone == "" {
		return "", app.NewError(app.CodeNotFound, "rider", "没有此演示乘客或其无手机号。", "No such demo rider, or no phone on record.")
	}
	return ProxyCodeFor(phone), nil
}

// CardBinding is what tests ask about a card: bound or not, and to whom
// (the rider's demo key, "" for a person created by a binding).
type CardBinding struct {
	Bound     bool
	RiderKey  string
	DocMasked string
	ViaProxy  bool
	Auto      bool
}

// CardBindingOf returns the binding state of a card.
func (s *Server) CardBindingOf(ctx context.Context, number string) (CardBinding, error) {
	var out CardBinding
	var key sql.NullString
	err := s.db.Read().QueryRowContext(ctx, `SELECT p.demo_key, p.doc_masked, b.helper_doc_key IS NOT NULL, b.auto FROM bindings b JOIN persons p ON p.id = b.person_id WHERE b.card_number = ?`, number).
		Scan(&key, &out.DocMasked, &out.ViaProxy, &out.Auto)
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	out.Bound, out.RiderKey = true, key.String
	return out, nil
}

// CountBindings returns how many bindings exist in total (tests assert
// "exactly one binding").
func (s *Server) CountBindings(ctx context.Context) (int, error) {
	var n int
	err := s.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM bindings`).Scan(&n)
	return n, err
}

// AdminRider is a demo rider as the admin API lists it (masked values only).
type AdminRider struct {
	Key         string           `json:"key"`
	DocType     string           `json:"doc_type"`
	DocMasked   string           `json:"doc_masked"`
	NameMasked  string           `json:"name_masked"`
	PhoneMasked string           `json:"phone_masked,omitempty"`
	Color       string           `json:"color"`
	Cards       []AdminRiderCard `json:"cards"`
}

// AdminRiderCard is one of a demo rider's cards. The card number is shown
// in full: the simulator panel "places" it on the reader.
type AdminRiderCard struct {
	CardNumber string `json:"card_number"`
	Kind       string `json:"kind"`
	Form       string `json:"form"`
	Bound      bool   `json:"bound"`
}

// Riders lists the demo riders (masked), in key order.
func (s *Server) Riders(ctx context.Context) ([]AdminRider, error) {
	db := s.db.Read()
	rows, err := db.QueryContext(ctx, `SELECT id, demo_key, doc_type, doc_masked, name_masked, phone, color FROM persons WHERE demo_key IS NOT NULL ORDER BY demo_key`)
	if err != nil {
		return nil, err
	}
	type rid struct {
		id int64
		r  AdminRider
	}
	var list []rid
	for rows.Next() {
		var x rid
		var phone string
		if err := rows.Scan(&x.id, &x.r.Key, &x.r.DocType, &x.r.DocMasked, &x.r.NameMasked, &phone, &x.r.Color); err != nil {
			rows.Close()
			return nil, err
		}
		if phone != "" {
			x.r.PhoneMasked = maskPhone(phone)
		}
		list = append(list, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]AdminRider, 0, len(list))
	for _, x := range list {
		crows, err := db.QueryContext(ctx, `SELECT c.number, c.kind, c.form, b.card_number IS NOT NULL FROM cards c LEFT JOIN bindings b ON b.card_number = c.number
			WHERE c.owner_id = ? OR b.person_id = ? ORDER BY c.number`, x.id, x.id)
		if err != nil {
			return nil, err
		}
		x.r.Cards = []AdminRiderCard{}
		for crows.Next() {
			var c AdminRiderCard
			if err := crows.Scan(&c.CardNumber, &c.Kind, &c.Form, &c.Bound); err != nil {
				crows.Close()
				return nil, err
			}
			x.r.Cards = append(x.r.Cards, c)
		}
		crows.Close()
		out = append(out, x.r)
	}
	return out, nil
}

func (s *Server) adminGetFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

func (s *Server) adminSetFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeError(w, errBadRequest("Malformed faults."))
		return
	}
	f.Latency = 0
	s.SetFaults(f)
	s.log.Info("central simulator faults set", "faults", fmt.Sprintf("%+v", s.Faults()))
	writeJSON(w, http.StatusOK, s.Faults())
}

func (s *Server) adminRiders(w http.ResponseWriter, r *http.Request) {
	rs, err := s.Riders(r.Context())
	if err != nil {
		writeError(w, errInternal())
		return
	}
	writeJSON(w, http.StatusOK, rs)
}

func (s *Server) adminSetHealth(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Color        string     `json:"color"`
		LastNegative *time.Time `json:"last_negative"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, errBadRequest("Malformed health."))
		return
	}
	h := app.HealthStatus{Color: app.HealthColor(body.Color)}
	if body.LastNegative != nil {
		h.LastNegative = *body.LastNegative
	}
	err := s.SetHealth(r.Context(), r.PathValue("key"), h)
	switch app.ErrorCode(err) {
	case "":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	case app.CodeNotFound:
		writeError(w, errNotFound("没有此演示乘客。", "No such demo rider."))
	case app.CodeInvalid:
		writeError(w, errBadRequest("Invalid health colour."))
	default:
		writeError(w, errInternal())
	}
}

// AdminCode is one demo rider's verification code.
type AdminCode struct {
	RiderKey    string `json:"rider_key"`
	PhoneMasked string `json:"phone_masked"`
	Code        string `json:"code"`
}

// ProxyCodes lists the verification code of every demo rider with a phone.
func (s *Server) ProxyCodes(ctx context.Context) ([]AdminCode, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT demo_key, phone FROM persons WHERE demo_key IS NOT NULL AND phone != '' ORDER BY demo_key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AdminCode{}
	for rows.Next() {
		var k, p string
		if err := rows.Scan(&k, &p); err != nil {
			return nil, err
		}
		out = append(out, AdminCode{RiderKey: k, PhoneMasked: maskPhone(p), Code: ProxyCodeFor(p)})
	}
	return out, rows.Err()
}

func (s *Server) adminCodes(w http.ResponseWriter, r *http.Request) {
	cs, err := s.ProxyCodes(r.Context())
	if err != nil {
		writeError(w, errInternal())
		return
	}
	writeJSON(w, http.StatusOK, cs)
}
