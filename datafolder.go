package main

import (
	"errors"
	"fmt"
	"os"

	"stationdesk/app"
)

// checkWritable is ensureWritable with the message the desk shows: the
// folder's path and what the technician can do, in both languages.
func checkWritable(dir string) error {
	if err := ensureWritable(dir); err != nil {
		return app.WrapError(err, app.CodeUnavailable, "data_dir",
			"数据目录无法写入："+dir+"。请检查磁盘空间和权限，或用 --data 指定其他目录。",
			"The data folder cannot be written: "+dir+". Check disk space and permissions, or choose another with --data.")
	}
	return nil
}

// ensureWritable creates dir (0700: it holds personal data) and proves it
// can be written, so a read-only or full data folder is reported at start
// with its path rather than at the first sale.
func ensureWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data folder %s cannot be created: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("data folder %s is not writable: %w", dir, err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("ok"))
	cerr := f.Close()
	os.Remove(name)
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("data folder %s is not writable: %w", dir, err)
	}
	return nil
}
