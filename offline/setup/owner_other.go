//go:build !unix

package setup

import "errors"

// chownTree is Unix only: on Windows the data folder's access is its ACL,
// which the installer sets on %ProgramData%\StationDesk and the folder
// inherits.
func chownTree(string, Owner) error {
	return errors.New("setup: --user is for Unix; on Windows the data folder's ACL decides who may use it")
}
