package syncwire

import "fmt"

// ChunkName is the name of snapshot chunk b of kind ("cards", "persons")
// in snapshot seq, as it appears in the manifest's object paths.
func ChunkName(seq uint64, kind string, b int) string {
	return fmt.Sprintf("%d/%s/%d", seq, kind, b)
}

// SegmentName is the name of the delta segment holding changes from..to.
func SegmentName(from, to uint64) string { return fmt.Sprintf("%d-%d", from, to) }

// ObjectPath returns the URL path (below /v1/sync) of a chunk or segment:
// the publisher serves objects under it and the station fetches them from
// it, so both sides take it from here.
func ObjectPath(snapshotSeq uint64, c *ChunkRef, s *SegmentRef) string {
	if c != nil {
		return "/snapshot/" + ChunkName(snapshotSeq, c.Kind, c.Bucket)
	}
	return "/segment/" + SegmentName(s.From, s.To)
}
