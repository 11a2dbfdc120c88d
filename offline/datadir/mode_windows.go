//go:build windows

package datadir

import "os"

// chmodOwnerOnly: on Windows the folder's ACL, inherited from the folder
// the installer prepared, decides who may open the file.
func chmodOwnerOnly(*os.File) error { return nil }
