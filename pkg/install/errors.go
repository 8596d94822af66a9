package install

import (
	"errors"
	"fmt"

	"github.com/ferryhq/ferry/pkg/errdef"
)

// Sentinel errors. Test for them with errors.Is.
var (
	// ErrUnsafeArchive is matched by every *UnsafeArchiveError: the layer
	// tried to escape its directory, create a link or a special file, or
	// exceeded the configured Limits.
	ErrUnsafeArchive = errdef.New(errdef.ErrUnsafeArchive, "unsafe archive")
	// ErrCorruptArchive means the layer is not a readable gzip-compressed
	// tar stream (not gzip, truncated, bad checksum, bad tar header).
	ErrCorruptArchive = errors.New("corrupt archive")
	// ErrCorruptState means state.json or a journal could not be parsed or
	// failed validation. It is never silently reset.
	ErrCorruptState = errors.New("corrupt install state")
	// ErrNotInstalled means no record exists for the requested key.
	ErrNotInstalled = errors.New("not installed")
	// ErrConflict means an artifact's file collides with something on disk
	// that ferry will not overwrite (a directory where a file goes, a file
	// where a directory goes, or ferry's own reserved names).
	ErrConflict = errors.New("conflicting path")
)

// UnsafeArchiveError describes why an archive entry was refused.
// It matches ErrUnsafeArchive with errors.Is.
type UnsafeArchiveError struct {
	Entry  string // the entry's name as written in the archive ("" for the stream as a whole)
	Reason string
}

func (e *UnsafeArchiveError) Error() string {
	if e.Entry == "" {
		return "unsafe archive: " + e.Reason
	}
	return fmt.Sprintf("unsafe archive entry %q: %s", e.Entry, e.Reason)
}

// Is reports whether target is ErrUnsafeArchive or its kind (errdef).
func (e *UnsafeArchiveError) Is(target error) bool { return errors.Is(ErrUnsafeArchive, target) }

func unsafeEntry(name, format string, args ...any) error {
	return &UnsafeArchiveError{Entry: name, Reason: fmt.Sprintf(format, args...)}
}
