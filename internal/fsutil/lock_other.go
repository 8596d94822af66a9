//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package fsutil

import (
	"errors"
	"os"
)

// TryLock is not supported on this platform.
func TryLock(*os.File) (bool, error) { return false, errors.ErrUnsupported }

// Unlock is not supported on this platform.
func Unlock(*os.File) error { return errors.ErrUnsupported }
