package cache

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"

	"stationdesk/offline/syncwire"
)

// The card table is a rowid table keyed by the first 64 bits of the
// 96-bit card hash (k, with the sign bit flipped so that signed rowid
// order is the hash's byte order and a key-sorted snapshot appends at the
// right edge of the B-tree); t holds the remaining 32 bits. A look-up is
// then one integer B-tree descent with no record compare of a blob key.
//
// Two cards whose hashes share the first 64 bits (about 2.4e-5 expected
// pairs at 30 M cards) cannot both be in card: the first keeps the card
// row and the others go into card_x, keyed by (k, t). Invariant kept by
// every writer (fixCollisions): every card_x row has a card row with the
// same k, so a look-up reads card_x only when card has the k with another
// t.

// cardKey splits a card hash into the rowid key and the tail.
func cardKey(h syncwire.CardHash) (k, t int64) {
	return int64(binary.BigEndian.Uint64(h[0:8]) ^ 1<<63), int64(binary.BigEndian.Uint32(h[8:12]))
}

// cardHashOf is the inverse of cardKey.
func cardHashOf(k, t int64) syncwire.CardHash {
	var h syncwire.CardHash
	binary.BigEndian.PutUint64(h[0:8], uint64(k)^1<<63)
	binary.BigEndian.PutUint32(h[8:12], uint32(t))
	return h
}

type execQueryer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

var errDuplicateCard = errors.New("duplicate card hash")

// putCard writes one card row (insert or update), into card or, when card
// holds another card with the same 64-bit key, into card_x. With
// failOnSame (snapshot build) a card already present is an error.
func putCard(ctx context.Context, q execQueryer, h syncwire.CardHash, person uint64, flags uint8, failOnSame bool) error {
	k, t := cardKey(h)
	var have int64
	err := q.QueryRowContext(ctx, `SELECT t FROM card WHERE k = ?`, k).Scan(&have)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = q.ExecContext(ctx, `INSERT INTO card(k, t, person, flags) VALUES(?, ?, ?, ?)`, k, t, int64(person), int64(flags))
		return err
	case err != nil:
		return err
	case have == t:
		if failOnSame {
			return errDuplicateCard
		}
		_, err = q.ExecContext(ctx, `UPDATE card SET person = ?, flags = ? WHERE k = ?`, int64(person), int64(flags), k)
		return err
	}
	if failOnSame {
		var n int
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM card_x WHERE k = ? AND t = ?`, k, t).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errDuplicateCard
		}
	}
	_, err = q.ExecContext(ctx, `INSERT OR REPLACE INTO card_x(k, t, person, flags) VALUES(?, ?, ?, ?)`, k, t, int64(person), int64(flags))
	return err
}

// delCard deletes one card row wherever it is, then restores the card_x
// invariant.
func delCard(ctx context.Context, q execQueryer, h syncwire.CardHash) error {
	k, t := cardKey(h)
	if _, err := q.ExecContext(ctx, `DELETE FROM card WHERE k = ? AND t = ?`, k, t); err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM card_x WHERE k = ? AND t = ?`, k, t); err != nil {
		return err
	}
	return fixCollisions(ctx, q)
}

// fixCollisions moves a card_x row whose key has no card row (its card
// row was deleted) into card, one per key. card_x is empty or holds a
// handful of rows, so this costs one look-up of an empty table.
func fixCollisions(ctx context.Context, q execQueryer) error {
	for {
		var k, t int64
		err := q.QueryRowContext(ctx, `SELECT x.k, x.t FROM card_x x WHERE NOT EXISTS (SELECT 1 FROM card c WHERE c.k = x.k) LIMIT 1`).Scan(&k, &t)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("card collisions: %w", err)
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO card(k, t, person, flags) SELECT k, t, person, flags FROM card_x WHERE k = ? AND t = ?`, k, t); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM card_x WHERE k = ? AND t = ?`, k, t); err != nil {
			return err
		}
	}
}

// cardXAny reports whether card_x holds any row.
func cardXAny(ctx context.Context, q execQueryer) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM card_x LIMIT 1)`).Scan(&n)
	return n > 0, err
}

// cardKeyRange is the [lo, hi] k range of one card bucket (first hash
// byte).
func cardKeyRange(bucket int) (lo, hi int64) {
	var a, b syncwire.CardHash
	a[0], b[0] = byte(bucket), byte(bucket)
	for i := 1; i < len(b); i++ {
		b[i] = 0xff
	}
	lo, _ = cardKey(a)
	hi, _ = cardKey(b)
	return lo, hi
}
