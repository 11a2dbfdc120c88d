package cache

import (
	"slices"
	"testing"

	"stationdesk/offline/syncwire"
)

// TestPatchesFoldAsACounter: the merges' patches on the memory index fold
// so that each is larger than the next newer one (a look-up reads about
// log2 of the merges), the newer value of a key wins a fold, and adding a
// patch never changes the index look-ups may be reading.
func TestPatchesFoldAsACounter(t *testing.T) {
	one := func(p uint64, st int64) *ixPatch {
		return newPatch(nil, []mergePerson{{p, ovPerson{st: st}}})
	}
	ix := &memIndex{}
	var sizes [][]int
	for i := range 7 {
		ix = ix.with(one(uint64(i), int64(i)))
		var s []int
		for _, p := range ix.patches {
			s = append(s, p.rows())
		}
		sizes = append(sizes, s)
	}
	want := [][]int{{1}, {2}, {2, 1}, {4}, {4, 1}, {4, 2}, {4, 2, 1}}
	for i := range want {
		if !slices.Equal(sizes[i], want[i]) {
			t.Fatalf("patch sizes after %d merges: %v, want %v", i+1, sizes[i], want[i])
		}
	}

	before := ix
	after := ix.with(one(3, 30)) // person 3 again, newer; folds everything
	if len(before.patches) != 3 || before.patchRows() != 7 {
		t.Fatalf("the older index changed: %d patches of %d rows", len(before.patches), before.patchRows())
	}
	if st, ok := before.person(3); !ok || st != 3 {
		t.Fatalf("older index, person 3: %d %v, want 3", st, ok)
	}
	if len(after.patches) != 1 || after.patchRows() != 7 {
		t.Fatalf("after a merge that folds all: %d patches of %d rows, want one of 7", len(after.patches), after.patchRows())
	}
	if st, ok := after.person(3); !ok || st != 30 {
		t.Fatalf("person 3 after the fold: %d %v, want the newer 30", st, ok)
	}

	// A deletion on top hides a person the arrays hold.
	gone := newPatch(nil, []mergePerson{{5, ovPerson{del: true}}})
	if _, ok := after.with(gone).person(5); ok {
		t.Fatal("person 5 deleted by the newest patch is still found")
	}
	var h syncwire.CardHash
	h[0] = 9
	card := newPatch([]mergeCard{{h, ovCard{person: 3, flags: syncwire.FlagBlocked}}}, nil)
	if person, flags, st, hasSt, found, inFile := after.with(card).card(h); !found || inFile || person != 3 || flags != syncwire.FlagBlocked || !hasSt || st != 30 {
		t.Fatalf("patched card: person %d flags %d st %d hasSt %v found %v inFile %v", person, flags, st, hasSt, found, inFile)
	}
}
