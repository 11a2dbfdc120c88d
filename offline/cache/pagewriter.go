package cache

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// A snapshot build writes the two big tables' B-trees itself instead of
// inserting row by row. SQLite checks every inserted rowid with a full
// descent of the table's B-tree (OP_NotExists, a binary search of 9-byte
// varints on every level: the cursor forgets its place after each insert),
// which was 40 % of a 30 M-card build's CPU; key-sorted rows need no
// search. docs/decisions.md, "The cold build writes its B-trees", has the
// figures.
//
// A tableWriter packs one rowid table's leaf pages, in key order, into a
// file of their own beside the build file (leafPath). attachTree then
// copies them after the build file's last page, adds the interior pages
// and writes the top node into the table's root page, which SQLite created
// empty. Only integer columns are written, and only what SQLite reads back
// the same: the SQLite file format's table-leaf and table-interior pages
// (https://www.sqlite.org/fileformat2.html), records of serial types 0-9.

const (
	pageLeafTable     = 0x0d
	pageInteriorTable = 0x05
)

var errPagesFile = errors.New("build pages file damaged")

// tableWriter writes one table's leaves. Not safe for concurrent use.
type tableWriter struct {
	path     string
	pageSize int
	f        *os.File
	w        *bufio.Writer
	maxKeys  []int64 // largest key of each leaf written, in file order
	last     int64   // largest key written, when any row was (empty)
	page     []byte  // the leaf being filled
	cells    int
	content  int // start of its cell content area
	cell     []byte
}

// openTableWriter opens (or creates) the leaves file at path, keeping its
// first pages pages (what the build recorded as committed) and reading
// their largest keys back; anything after them is from a chunk that did
// not commit and is cut off.
func openTableWriter(path string, pageSize, pages int) (*tableWriter, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	tw := &tableWriter{path: path, pageSize: pageSize, f: f, page: make([]byte, pageSize), cell: make([]byte, 0, 64)}
	fail := func(err error) (*tableWriter, error) { f.Close(); return nil, err }
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if st.Size() < int64(pages)*int64(pageSize) {
		return fail(fmt.Errorf("%w: %s has %d bytes, the build recorded %d pages", errPagesFile, path, st.Size(), pages))
	}
	if err := f.Truncate(int64(pages) * int64(pageSize)); err != nil {
		return fail(err)
	}
	buf := make([]byte, pageSize)
	for i := 0; i < pages; i++ {
		if _, err := f.ReadAt(buf, int64(i)*int64(pageSize)); err != nil {
			return fail(err)
		}
		k, err := leafMaxKey(buf)
		if err != nil || (i > 0 && k <= tw.last) {
			return fail(fmt.Errorf("%w: %s page %d", errPagesFile, path, i))
		}
		tw.maxKeys = append(tw.maxKeys, k)
		tw.last = k
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return fail(err)
	}
	tw.w = bufio.NewWriterSize(f, 1<<20)
	tw.resetPage()
	return tw, nil
}

// leafMaxKey checks that page is a non-empty table leaf and returns its
// last cell's key.
func leafMaxKey(page []byte) (int64, error) {
	if page[0] != pageLeafTable {
		return 0, errPagesFile
	}
	n := int(binary.BigEndian.Uint16(page[3:5]))
	if n == 0 || 8+2*n > len(page) {
		return 0, errPagesFile
	}
	off := int(binary.BigEndian.Uint16(page[8+2*(n-1):]))
	if off < 8+2*n || off >= len(page) {
		return 0, errPagesFile
	}
	_, a := getVarint(page[off:])
	if a == 0 {
		return 0, errPagesFile
	}
	k, b := getVarint(page[off+a:])
	if b == 0 {
		return 0, errPagesFile
	}
	return int64(k), nil
}

// pages is the number of leaves written (the open page not counted).
func (tw *tableWriter) pages() int { return len(tw.maxKeys) }

// after reports whether key k may come next (strictly ascending).
func (tw *tableWriter) after(k int64) bool { return tw.empty() || k > tw.last }

// empty reports whether no row was written yet.
func (tw *tableWriter) empty() bool { return len(tw.maxKeys) == 0 && tw.cells == 0 }

func (tw *tableWriter) resetPage() {
	clear(tw.page)
	tw.cells, tw.content = 0, tw.pageSize
}

// add appends one row: key k and its record's integer columns after the
// rowid alias (stored as NULL). The caller keeps keys ascending (after).
func (tw *tableWriter) add(k int64, cols ...int64) error {
	// record: header size, serial types (NULL for the rowid alias), bodies
	var hdr [8]byte
	var body [64]byte
	h, bn := 1, 0
	hdr[h] = 0
	h++
	for _, v := range cols {
		t, n := intSerial(v)
		hdr[h] = t
		h++
		for i := n - 1; i >= 0; i-- {
			body[bn+i] = byte(v)
			v >>= 8
		}
		bn += n
	}
	hdr[0] = byte(h)
	c := tw.cell[:0]
	c = appendVarint(c, uint64(h+bn))
	c = appendVarint(c, uint64(k))
	c = append(c, hdr[:h]...)
	c = append(c, body[:bn]...)
	tw.cell = c
	if 8+2*(tw.cells+1) > tw.content-len(c) {
		if err := tw.flushPage(); err != nil {
			return err
		}
		if 8+2 > tw.content-len(c) { // cannot happen with integer columns
			return fmt.Errorf("a %d-byte row does not fit a %d-byte page", len(c), tw.pageSize)
		}
	}
	tw.content -= len(c)
	copy(tw.page[tw.content:], c)
	binary.BigEndian.PutUint16(tw.page[8+2*tw.cells:], uint16(tw.content))
	tw.cells++
	tw.last = k
	return nil
}

// flushPage writes the open leaf, if it has cells.
func (tw *tableWriter) flushPage() error {
	if tw.cells == 0 {
		return nil
	}
	p := tw.page
	p[0] = pageLeafTable
	binary.BigEndian.PutUint16(p[3:5], uint16(tw.cells))
	binary.BigEndian.PutUint16(p[5:7], uint16(tw.content%65536)) // 0 means 65536
	if _, err := tw.w.Write(p); err != nil {
		return err
	}
	tw.maxKeys = append(tw.maxKeys, tw.last)
	tw.resetPage()
	return nil
}

// commit writes out the open leaf and everything buffered: a chunk ends on
// a page boundary, so a build resumed after it keeps whole pages only.
func (tw *tableWriter) commit() error {
	if err := tw.flushPage(); err != nil {
		return err
	}
	return tw.w.Flush()
}

// rollback forgets everything after the first pages leaves (a chunk whose
// transaction failed).
func (tw *tableWriter) rollback(pages int) error {
	tw.w.Reset(tw.f)
	tw.resetPage()
	tw.maxKeys = tw.maxKeys[:pages]
	if pages > 0 {
		tw.last = tw.maxKeys[pages-1]
	}
	if err := tw.f.Truncate(int64(pages) * int64(tw.pageSize)); err != nil {
		return err
	}
	_, err := tw.f.Seek(0, io.SeekEnd)
	return err
}

func (tw *tableWriter) close() error {
	if tw.f == nil {
		return nil
	}
	err := tw.w.Flush()
	if cerr := tw.f.Close(); err == nil {
		err = cerr
	}
	tw.f = nil
	return err
}

// remove closes and deletes the leaves file.
func (tw *tableWriter) remove() error {
	tw.close()
	if err := os.Remove(tw.path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// intSerial is the record serial type of integer v and its body length
// (schema format 4: 0 and 1 have bodyless types 8 and 9).
func intSerial(v int64) (byte, int) {
	switch {
	case v == 0:
		return 8, 0
	case v == 1:
		return 9, 0
	case v >= -1<<7 && v < 1<<7:
		return 1, 1
	case v >= -1<<15 && v < 1<<15:
		return 2, 2
	case v >= -1<<23 && v < 1<<23:
		return 3, 3
	case v >= -1<<31 && v < 1<<31:
		return 4, 4
	case v >= -1<<47 && v < 1<<47:
		return 5, 6
	}
	return 6, 8
}

// appendVarint appends SQLite's big-endian varint of v (1 to 9 bytes; the
// ninth byte carries 8 bits).
func appendVarint(b []byte, v uint64) []byte {
	if v>>56 != 0 {
		var p [9]byte
		p[8] = byte(v)
		v >>= 8
		for i := 7; i >= 0; i-- {
			p[i] = byte(v&0x7f) | 0x80
			v >>= 7
		}
		return append(b, p[:]...)
	}
	var buf [9]byte
	n := 0
	for {
		buf[n] = byte(v&0x7f) | 0x80
		n++
		v >>= 7
		if v == 0 {
			break
		}
	}
	buf[0] &= 0x7f
	for i := n - 1; i >= 0; i-- {
		b = append(b, buf[i])
	}
	return b
}

// getVarint decodes a varint; n is 0 when b is too short.
func getVarint(b []byte) (v uint64, n int) {
	for i := 0; i < 8; i++ {
		if i >= len(b) {
			return 0, 0
		}
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	if len(b) < 9 {
		return 0, 0
	}
	return v<<8 | uint64(b[8]), 9
}

func varintLen(v uint64) int {
	if v>>56 != 0 {
		return 9
	}
	n := 1
	for v >>= 7; v != 0; v >>= 7 {
		n++
	}
	return n
}

// dbHeader is what attachTree needs from the file's first 100 bytes.
type dbHeader struct {
	raw      [100]byte
	pageSize int
	pages    uint32
}

func readDBHeader(f *os.File) (dbHeader, error) {
	var h dbHeader
	if _, err := f.ReadAt(h.raw[:], 0); err != nil {
		return h, fmt.Errorf("read database header: %w", err)
	}
	if string(h.raw[:16]) != "SQLite format 3\x00" {
		return h, fmt.Errorf("%w: not an SQLite file", errDamaged)
	}
	h.pageSize = int(binary.BigEndian.Uint16(h.raw[16:18]))
	if h.pageSize == 1 {
		h.pageSize = 65536
	}
	switch {
	case h.raw[20] != 0:
		return h, fmt.Errorf("attach pages: %d reserved bytes per page not supported", h.raw[20])
	case binary.BigEndian.Uint32(h.raw[44:48]) != 4:
		return h, fmt.Errorf("attach pages: schema format %d, want 4", binary.BigEndian.Uint32(h.raw[44:48]))
	case binary.BigEndian.Uint32(h.raw[52:56]) != 0:
		return h, errors.New("attach pages: auto-vacuum files not supported")
	case binary.BigEndian.Uint32(h.raw[24:28]) != binary.BigEndian.Uint32(h.raw[92:96]):
		return h, errors.New("attach pages: the header's page count is not valid")
	}
	h.pages = binary.BigEndian.Uint32(h.raw[28:32])
	st, err := f.Stat()
	if err != nil {
		return h, err
	}
	if st.Size() < int64(h.pages)*int64(h.pageSize) {
		return h, fmt.Errorf("%w: file shorter than its page count", errDamaged)
	}
	return h, nil
}

// attachTree puts the leaves of tw (closed, committed) into the SQLite file
// f (no connection open on it) as the B-tree of the table whose empty root
// page is root: leaves after the file's last page, then the interior
// pages, then the top node into root. It sets h's page count; the caller
// writes the header once for all tables (writeDBHeader).
func attachTree(f *os.File, h *dbHeader, root uint32, leaves string, maxKeys []int64) error {
	ps := int64(h.pageSize)
	rootPage := make([]byte, ps)
	if _, err := f.ReadAt(rootPage, int64(root-1)*ps); err != nil {
		return err
	}
	if rootPage[0] != pageLeafTable || binary.BigEndian.Uint16(rootPage[3:5]) != 0 {
		return fmt.Errorf("attach pages: root page %d of the table is not an empty table leaf", root)
	}
	if len(maxKeys) == 0 {
		return nil
	}
	lf, err := os.Open(leaves)
	if err != nil {
		return err
	}
	defer lf.Close()
	if len(maxKeys) == 1 { // the whole table is one leaf: it is the root
		if _, err := lf.ReadAt(rootPage, 0); err != nil {
			return err
		}
		_, err := f.WriteAt(rootPage, int64(root-1)*ps)
		return err
	}
	first := h.pages + 1
	if _, err := io.Copy(io.NewOffsetWriter(f, int64(h.pages)*ps), io.NewSectionReader(lf, 0, int64(len(maxKeys))*ps)); err != nil {
		return fmt.Errorf("attach pages: copy leaves: %w", err)
	}
	next := first + uint32(len(maxKeys))
	kids := make([]child, len(maxKeys))
	for i, k := range maxKeys {
		kids[i] = child{pgno: first + uint32(i), key: k}
	}
	w := bufio.NewWriterSize(io.NewOffsetWriter(f, int64(next-1)*ps), 1<<20)
	page := make([]byte, ps)
	for {
		groups := groupChildren(kids, h.pageSize)
		if len(groups) == 1 {
			fillInterior(page, kids)
			if err := w.Flush(); err != nil {
				return err
			}
			if _, err := f.WriteAt(page, int64(root-1)*ps); err != nil {
				return err
			}
			break
		}
		up := make([]child, 0, len(groups))
		at := 0
		for _, n := range groups {
			g := kids[at : at+n]
			at += n
			fillInterior(page, g)
			if _, err := w.Write(page); err != nil {
				return err
			}
			up = append(up, child{pgno: next, key: g[len(g)-1].key})
			next++
		}
		kids = up
	}
	h.pages = next - 1
	return nil
}

type child struct {
	pgno uint32
	key  int64
}

// groupChildren splits kids into interior pages: as many as fit in each
// (12-byte header; a cell, its pointer included, is 2 + 4 + the key's
// varint; the last child of a page is its right pointer, no cell), with
// at least two children in the last page.
func groupChildren(kids []child, pageSize int) []int {
	var groups []int
	n, used := 0, 12
	for i := range kids {
		if n > 0 {
			// kids[i-1] becomes a cell of this page once kids[i] joins it
			c := 6 + varintLen(uint64(kids[i-1].key))
			if used+c > pageSize {
				groups = append(groups, n)
				n, used = 0, 12
			} else {
				used += c
			}
		}
		n++
	}
	groups = append(groups, n)
	if l := len(groups); l > 1 && groups[l-1] == 1 {
		groups[l-2]--
		groups[l-1]++
	}
	return groups
}

// fillInterior writes a table-interior page for kids into page.
func fillInterior(page []byte, kids []child) {
	clear(page)
	page[0] = pageInteriorTable
	n := len(kids) - 1
	binary.BigEndian.PutUint16(page[3:5], uint16(n))
	binary.BigEndian.PutUint32(page[8:12], kids[n].pgno)
	content := len(page)
	var cell []byte
	for i := 0; i < n; i++ {
		cell = binary.BigEndian.AppendUint32(cell[:0], kids[i].pgno)
		cell = appendVarint(cell, uint64(kids[i].key))
		content -= len(cell)
		copy(page[content:], cell)
		binary.BigEndian.PutUint16(page[12+2*i:], uint16(content))
	}
	binary.BigEndian.PutUint16(page[5:7], uint16(content%65536))
}

// writeDBHeader writes the header with the new page count, and bumps the
// change counter (kept equal to version-valid-for, which makes SQLite
// trust the page count).
func writeDBHeader(f *os.File, h *dbHeader) error {
	c := binary.BigEndian.Uint32(h.raw[24:28]) + 1
	binary.BigEndian.PutUint32(h.raw[24:28], c)
	binary.BigEndian.PutUint32(h.raw[92:96], c)
	binary.BigEndian.PutUint32(h.raw[28:32], h.pages)
	if err := f.Truncate(int64(h.pages) * int64(h.pageSize)); err != nil {
		return err
	}
	if _, err := f.WriteAt(h.raw[:], 0); err != nil {
		return err
	}
	return f.Sync()
}
