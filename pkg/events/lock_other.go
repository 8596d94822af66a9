//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package events

import (
	"errors"
	"os"
)

func tryLock(*os.File) (bool, error) { return false, errors.ErrUnsupported }

func unlockFile(*os.File) error { return errors.ErrUnsupported }
