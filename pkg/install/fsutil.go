package install

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferryhq/ferry/internal/fsutil"
)

// errCrashed is returned when a test hook simulates a crash: the operation
// stops where it is, without any cleanup, as a killed process would.
var errCrashed = errors.New("simulated crash")

// newID returns a unique, time-ordered identifier for a staging directory
// and its journal.
func newID() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating id: %w", err)
	}
	return fmt.Sprintf("%016x-%s", time.Now().UnixNano(), hex.EncodeToString(b[:])), nil
}

// tempPrefix returns the prefix of the temporary files writeFileAtomic uses
// for name; Recover deletes leftovers by it.
func tempPrefix(name string) string { return "." + name + ".tmp-" }

func isTemp(name string) bool { return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") }

// writeFileAtomic replaces dir/name with data: temporary file, fsync,
// rename, fsync of dir. A crash leaves either the old or the new file (and
// maybe a temporary file that Recover removes).
func writeFileAtomic(dir, name string, data []byte, crash func(string) bool, step string) (err error) {
	f, err := os.CreateTemp(dir, tempPrefix(name)+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil && !errors.Is(err, errCrashed) {
			_ = os.Remove(tmp)
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if crash != nil && crash(step) {
		return errCrashed
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return fsutil.SyncDir(dir)
}

// syncRootDir is syncDir for a directory inside root.
func syncRootDir(root *os.Root, name string) error {
	d, err := root.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing %s: %w", filepath.Join(root.Name(), name), err)
	}
	return nil
}

// syncFile fsyncs an existing file's content.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing %s: %w", name, err)
	}
	return nil
}
