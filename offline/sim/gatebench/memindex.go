package gatebench

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"stationdesk/app"
	"stationdesk/offline/cache"
	"stationdesk/offline/syncwire"
)

// memIndex is a measurement, not a product path (the server child's
// --memindex): the big tables of the cache file copied into flat arrays in
// memory, so a look-up descends no B-tree. It prices the other way to the
// 85 % target of the gate cost (docs/decisions.md, "The gate look-up: one
// statement through SQLite's C API"):
// what a look-up costs without SQLite, and how much memory that takes at
// 30 M cards. Its answers ignore the overlay (the changes not yet merged),
// so they are wrong for changed cards, and it is never updated.
type memIndex struct {
	live *cache.Cache // freshness only

	// Cards in key order: the first 64 bits of the hash (as the cache's
	// rowid, cache/cardkey.go), the next 32, and the holder's index in
	// the person arrays (or noPerson).
	keys  []int64
	tails []uint32
	pidx  []uint32
	flags []uint8
	// dir[b] is the first card whose key's top dirBits bits are ≥ b: a
	// look-up searches only its bucket (about 7 cards at 30 M).
	dir []uint32
	// Persons in key order, with their encoded status.
	pkeys []int64
	st    []int64
}

const (
	dirBits  = 22
	noPerson = ^uint32(0)
)

// loadMemIndex reads the cache file at path into a memIndex.
func loadMemIndex(ctx context.Context, path string, live *cache.Cache) (*memIndex, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var nc, np int
	if err := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM card), (SELECT count(*) FROM person)`).Scan(&nc, &np); err != nil {
		return nil, err
	}
	m := &memIndex{live: live,
		keys: make([]int64, 0, nc), tails: make([]uint32, 0, nc), pidx: make([]uint32, 0, nc), flags: make([]uint8, 0, nc),
		pkeys: make([]int64, 0, np), st: make([]int64, 0, np)}
	rows, err := db.QueryContext(ctx, `SELECT p, st FROM person ORDER BY p`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var p, st int64
		if err := rows.Scan(&p, &st); err != nil {
			rows.Close()
			return nil, err
		}
		m.pkeys, m.st = append(m.pkeys, p), append(m.st, st)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	rows, err = db.QueryContext(ctx, `SELECT k, t, person, flags FROM card ORDER BY k`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var k, t, p, f int64
		if err := rows.Scan(&k, &t, &p, &f); err != nil {
			rows.Close()
			return nil, err
		}
		i, ok := slices.BinarySearch(m.pkeys, p)
		pi := uint32(i)
		if !ok {
			pi = noPerson
		}
		m.keys, m.tails, m.pidx, m.flags = append(m.keys, k), append(m.tails, uint32(t)), append(m.pidx, pi), append(m.flags, uint8(f))
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	m.dir = make([]uint32, 1<<dirBits+1)
	b := 0
	for i, k := range m.keys {
		for top := int(uint64(k)>>(64-dirBits) ^ 1<<(dirBits-1)); b <= top; b++ {
			m.dir[b] = uint32(i)
		}
	}
	for ; b <= 1<<dirBits; b++ {
		m.dir[b] = uint32(len(m.keys))
	}
	return m, nil
}

// bytes is the memory the arrays hold.
func (m *memIndex) bytes() int64 {
	return int64(len(m.keys))*17 + int64(len(m.dir))*4 + int64(len(m.pkeys))*16
}

func (m *memIndex) Lookup(_ context.Context, h syncwire.CardHash) (app.GateStatus, error) {
	k := int64(binary.BigEndian.Uint64(h[0:8]) ^ 1<<63)
	t := binary.BigEndian.Uint32(h[8:12])
	b := binary.BigEndian.Uint64(h[0:8]) >> (64 - dirBits)
	lo, hi := m.dir[b], m.dir[b+1]
	for i := lo; i < hi; i++ {
		if m.keys[i] != k {
			continue
		}
		if m.tails[i] != t {
			return app.GateStatus{}, nil // in card_x: not indexed here
		}
		gs := app.GateStatus{Found: true, Color: app.ColorNone, Blocked: m.flags[i]&syncwire.FlagBlocked != 0}
		if pi := m.pidx[i]; pi != noPerson {
			gs.Person = uint64(m.pkeys[pi])
			st := m.st[pi]
			gs.Color, gs.LastNegative = syncwire.HealthColor(uint8(st&3)), syncwire.TestTime(uint32(st>>2))
		}
		return gs, nil
	}
	return app.GateStatus{}, nil
}

func (m *memIndex) LookupPerson(_ context.Context, person uint64) (app.GateStatus, error) {
	i, ok := slices.BinarySearch(m.pkeys, int64(person))
	if !ok {
		return app.GateStatus{}, nil
	}
	st := m.st[i]
	return app.GateStatus{Found: true, Person: person, Color: syncwire.HealthColor(uint8(st & 3)), LastNegative: syncwire.TestTime(uint32(st >> 2))}, nil
}

func (m *memIndex) Freshness() app.CacheFreshness { return m.live.Freshness() }

// describe is the line the server child prints about the index.
func (m *memIndex) describe(took time.Duration) string {
	return fmt.Sprintf("memindex: %d cards, %d persons, %.0f MiB in %.1f s", len(m.keys), len(m.pkeys), float64(m.bytes())/(1<<20), took.Seconds())
}
