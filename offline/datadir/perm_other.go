//go:build !unix

package datadir

// On Windows who may open the data folder is its ACL, not mode bits: the
// installer creates %ProgramData%\StationDesk with an ACL for the desk's
// account, SYSTEM and Administrators only, and the folder and its files
// inherit it (see docs/storage-privacy.md). Go's os.Chmod changes only the
// read-only attribute there, so there is nothing to tighten here.
func secureFolder(string) error { return nil }

func secureTree(string) error { return nil }
