package cache_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"stationdesk/offline/cache"
	"stationdesk/offline/syncwire"

	_ "modernc.org/sqlite"
)

// pagedCity is n key-sorted cards (every 97th with a twin that shares its
// 64-bit key, every 101st deleted) held by persons 1..n/2, and those
// persons, all green with a test time.
func pagedCity(n int) ([]syncwire.Card, []syncwire.Person) {
	cards := make([]syncwire.Card, 0, n+n/97)
	for i := 0; i < n; i++ {
		c := syncwire.Card{Hash: cardHash(i), Person: uint64(i/2 + 1), Seq: 1}
		if i%101 == 5 {
			c.Flags = syncwire.FlagDeleted
		}
		cards = append(cards, c)
		if i%97 == 3 {
			cards = append(cards, syncwire.Card{Hash: twin(c.Hash, 1), Person: uint64(i/2 + 1), Flags: syncwire.FlagBlocked, Seq: 1})
		}
	}
	slices.SortFunc(cards, func(a, b syncwire.Card) int { return bytes.Compare(a.Hash[:], b.Hash[:]) })
	ps := make([]syncwire.Person, 0, n/2)
	for p := uint64(1); p <= uint64(n/2); p++ {
		ps = append(ps, syncwire.Person{Person: p, Color: syncwire.ColorGreen, TestMin: syncwire.TestMinutes(time.Unix(1_650_000_000+int64(p)*60, 0)), Seq: 1})
	}
	return cards, ps
}

// chunked splits rows into chunks of size rows, keeping their order.
func chunked[T any](rows []T, size int) [][]T {
	var out [][]T
	for len(rows) > 0 {
		n := min(size, len(rows))
		out = append(out, rows[:n])
		rows = rows[n:]
	}
	return out
}

func addAll(t *testing.T, b *cache.Builder, cards [][]syncwire.Card, persons [][]syncwire.Person) {
	t.Helper()
	ctx := context.Background()
	for i, c := range cards {
		if err := b.AddCards(ctx, fmt.Sprint("c", i), c); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range persons {
		if err := b.AddPersons(ctx, fmt.Sprint("p", i), p); err != nil {
			t.Fatal(err)
		}
	}
}

// integrityOK runs SQLite's integrity_check on the file at path.
func integrityOK(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %.600q %v", res, err)
	}
}

// openBuilder opens the build file at path for the test snapshot.
func openBuilder(t *testing.T, path string, pageSize int) *cache.Builder {
	t.Helper()
	b, err := cache.OpenBuilder(context.Background(), path, "t", "k", 0, cache.Options{PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// finishAndCheck finishes the build and checks the file (checkBuilt).
func finishAndCheck(t *testing.T, b *cache.Builder, path string, cards []syncwire.Card, persons []syncwire.Person) {
	t.Helper()
	if err := b.Finish(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	checkBuilt(t, path, cards, persons)
}

// checkBuilt opens the finished file with SQLite alone: integrity_check
// passes, no leaf file is left, and every live card and person answers
// with its row through the cache.
func checkBuilt(t *testing.T, path string, cards []syncwire.Card, persons []syncwire.Person) {
	t.Helper()
	ctx := context.Background()
	integrityOK(t, path)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var nc, nx, np int
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM card), (SELECT count(*) FROM card_x), (SELECT count(*) FROM person)`).Scan(&nc, &nx, &np); err != nil {
		t.Fatal(err)
	}
	db.Close()
	live, twins := 0, 0
	for i, c := range cards {
		if c.Flags&syncwire.FlagDeleted != 0 {
			continue
		}
		live++
		if i > 0 && bytes.Equal(c.Hash[:8], cards[i-1].Hash[:8]) && cards[i-1].Flags&syncwire.FlagDeleted == 0 {
			twins++
		}
	}
	if nc+nx != live || nx != twins || np != len(persons) {
		t.Fatalf("card %d + card_x %d rows, person %d rows; want %d cards (%d twins), %d persons", nc, nx, np, live, twins, len(persons))
	}
	for _, s := range []string{"-card.pages", "-person.pages"} {
		if _, err := os.Stat(path + s); !os.IsNotExist(err) {
			t.Errorf("leaf file %s left after Finish (%v)", s, err)
		}
	}
	c, err := cache.Open(ctx, path, cache.Options{NoMemIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < len(cards); i += 7 {
		st, err := c.Lookup(ctx, cards[i].Hash)
		if err != nil {
			t.Fatal(err)
		}
		deleted := cards[i].Flags&syncwire.FlagDeleted != 0
		if st.Found == deleted || !deleted && (st.Person != cards[i].Person || st.Blocked != (cards[i].Flags&syncwire.FlagBlocked != 0)) {
			t.Fatalf("card %d (deleted %v): %+v", i, deleted, st)
		}
	}
	for i := 0; i < len(persons); i += 11 {
		st, err := c.LookupPerson(ctx, persons[i].Person)
		if err != nil || !st.Found || st.LastNegative.IsZero() {
			t.Fatalf("person %d: %+v %v", persons[i].Person, st, err)
		}
	}
}

// TestBuildWritesValidTrees: a build whose tables go in as leaf pages
// gives a file SQLite's integrity_check accepts, four levels deep with 512 B
// pages, that answers every row and takes a merge.
func TestBuildWritesValidTrees(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.db")
	cards, persons := pagedCity(150_000)
	b := openBuilder(t, path, 512)
	addAll(t, b, chunked(cards, 10_000), chunked(persons, 10_000))
	if got := b.PagedTables(); got != 2 {
		t.Fatalf("%d tables on leaf pages before Finish, want 2", got)
	}
	finishAndCheck(t, b, path, cards, persons)

	// The trees take changes: apply and merge a segment that touches
	// cards and persons all over the key range.
	c, err := cache.Open(ctx, path, cache.Options{NoMemIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	seg := syncwire.Segment{From: 1, To: 2}
	for i := 0; i < len(cards); i += 50 {
		cd := cards[i]
		cd.Flags, cd.Seq = syncwire.FlagBlocked, 2
		seg.Cards = append(seg.Cards, cd)
	}
	for i := 0; i < len(persons); i += 50 {
		p := persons[i]
		p.Color, p.Seq = syncwire.ColorRed, 2
		seg.Persons = append(seg.Persons, p)
	}
	if _, err := c.ApplySegment(ctx, seg, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Lookup(ctx, cards[50].Hash); err != nil || !st.Blocked {
		t.Fatalf("merged card: %+v %v", st, err)
	}
	c.Close()
	integrityOK(t, path)
}

// TestBuildResumesItsPages: a build killed between chunks, with a chunk's
// pages written but not committed, resumes with whole committed chunks
// only and finishes with every row.
func TestBuildResumesItsPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	cards, persons := pagedCity(40_000)
	cc, pc := chunked(cards, 3_000), chunked(persons, 3_000)
	b := openBuilder(t, path, 1024)
	addAll(t, b, cc[:5], pc[:2])
	rows := b.Rows()
	b.Close()
	// What a chunk that never committed left: half a page of garbage on
	// each leaf file.
	for _, s := range []string{"-card.pages", "-person.pages"} {
		f, err := os.OpenFile(path+s, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(bytes.Repeat([]byte{0x0d, 0xff}, 256)); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	b = openBuilder(t, path, 1024)
	if b.Rows() != rows || !b.Done("c4") || b.Done("c5") || b.PagedTables() != 2 {
		t.Fatalf("resumed with %d rows (want %d), c4 done %v, c5 done %v, %d paged tables", b.Rows(), rows, b.Done("c4"), b.Done("c5"), b.PagedTables())
	}
	addAll(t, b, cc, pc) // the done chunks are skipped
	finishAndCheck(t, b, path, cards, persons)
}

// TestBuildOutOfOrderGoesOnWithStatements: chunks that do not follow the
// table's last key (a manifest in another order) attach the pages written
// so far, and the rest goes in with statements.
func TestBuildOutOfOrderGoesOnWithStatements(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	cards, persons := pagedCity(30_000)
	cc, pc := chunked(cards, 4_000), chunked(persons, 4_000)
	b := openBuilder(t, path, 1024)
	defer b.Close()
	slices.Reverse(cc)
	addAll(t, b, cc, pc)
	if got := b.PagedTables(); got != 1 {
		t.Fatalf("%d tables on leaf pages, want 1 (persons)", got)
	}
	finishAndCheck(t, b, path, cards, persons)
}

// TestBuildKilledWhileAttachingStartsOver: a build file with an attach in
// progress recorded is not resumed: its pages may be half in the file.
func TestBuildKilledWhileAttachingStartsOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	cards, persons := pagedCity(5_000)
	b := openBuilder(t, path, 0)
	addAll(t, b, chunked(cards, 1_000), nil)
	b.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO build_pages(tbl, pages) VALUES(2, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	b = openBuilder(t, path, 0)
	if b.Rows() != 0 || b.Done("c0") {
		t.Fatalf("resumed a build killed while attaching: %d rows", b.Rows())
	}
	addAll(t, b, chunked(cards, 1_000), chunked(persons, 1_000))
	finishAndCheck(t, b, path, cards, persons)
}

// TestBuildChunkThatFailsLeavesNoPages: a chunk whose transaction fails
// after its rows went to the leaf pages (here its context ends) takes its
// pages back: the chunk is not done, the leaf file is as before, and the
// build then finishes with every row once.
func TestBuildChunkThatFailsLeavesNoPages(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.db")
	cards, persons := pagedCity(20_000)
	cc := chunked(cards, 2_500)
	b := openBuilder(t, path, 1024)
	defer b.Close()
	addAll(t, b, cc[:3], nil)
	before, err := os.Stat(path + "-card.pages")
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.AddCards(cancelled, "c3", cc[3]); err == nil || b.Done("c3") {
		t.Fatalf("chunk with an ended context: err %v, done %v", err, b.Done("c3"))
	}
	after, err := os.Stat(path + "-card.pages")
	if err != nil || after.Size() != before.Size() {
		t.Fatalf("leaf file %d bytes after the failed chunk, %d before (%v)", after.Size(), before.Size(), err)
	}
	addAll(t, b, cc, chunked(persons, 2_500))
	finishAndCheck(t, b, path, cards, persons)
}

// TestBuildWithDamagedPagesStartsOver: a committed leaf page that is not a
// leaf any more (a damaged disk, a stray write) is not attached: the next
// OpenBuilder finds it, starts the build over, and the file built then is
// whole.
func TestBuildWithDamagedPagesStartsOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	cards, persons := pagedCity(20_000)
	b := openBuilder(t, path, 1024)
	addAll(t, b, chunked(cards, 2_500)[:4], nil)
	b.Close()
	f, err := os.OpenFile(path+"-card.pages", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 1024), 3*1024); err != nil { // page 3 zeroed
		t.Fatal(err)
	}
	f.Close()
	b = openBuilder(t, path, 1024)
	if b.Rows() != 0 || b.Done("c0") {
		t.Fatalf("resumed a build with a damaged leaf page: %d rows", b.Rows())
	}
	addAll(t, b, chunked(cards, 2_500), chunked(persons, 2_500))
	finishAndCheck(t, b, path, cards, persons)
}

// TestBuildWhoseAttachFailsStartsOver: when putting the pages into the
// file fails (here a leaf file is gone), Finish says so, the builder takes
// no more chunks, and the next OpenBuilder starts over instead of serving
// a half-attached file.
func TestBuildWhoseAttachFailsStartsOver(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.db")
	cards, persons := pagedCity(20_000)
	cc, pc := chunked(cards, 2_500), chunked(persons, 2_500)
	b := openBuilder(t, path, 1024)
	addAll(t, b, cc, pc)
	if err := os.Remove(path + "-person.pages"); err != nil {
		t.Fatal(err)
	}
	if err := b.Finish(ctx, 1); err == nil {
		t.Fatal("Finish without the person pages succeeded")
	}
	// A card after the last one: the chunk the leaf writers would take.
	var last syncwire.CardHash
	for i := range last {
		last[i] = 0xff
	}
	if err := b.AddCards(ctx, "late", []syncwire.Card{{Hash: last, Person: 1, Seq: 1}}); err == nil {
		t.Fatal("a builder whose attach failed took another chunk")
	}
	b = openBuilder(t, path, 1024)
	if b.Rows() != 0 {
		t.Fatalf("resumed a build whose attach failed: %d rows", b.Rows())
	}
	addAll(t, b, cc, pc)
	finishAndCheck(t, b, path, cards, persons)
}
