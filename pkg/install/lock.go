package install

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ferryhq/ferry/internal/fsutil"
)

// lockFileName is the lock in the state directory. (ferry.lock is the
// name of the lock file of resolved versions, unrelated.)
const lockFileName = ".lock"

const (
	lockPollMin = 5 * time.Millisecond
	lockPollMax = 100 * time.Millisecond
)

// Lock takes an exclusive lock on stateDir (flock on <stateDir>/.lock),
// creating stateDir (0755) if needed. It waits while another process or
// goroutine holds it, until ctx is done. The returned unlock releases it;
// calling it more than once is harmless. The lock is released by the
// kernel if the process dies.
func Lock(ctx context.Context, stateDir string) (unlock func() error, err error) {
	if err := mkdirAll(stateDir); err != nil {
		return nil, fmt.Errorf("locking %s: %w", stateDir, err)
	}
	p := filepath.Join(stateDir, lockFileName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", stateDir, err)
	}
	delay := lockPollMin
	for {
		ok, err := fsutil.TryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", p, err)
		}
		if ok {
			break
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", p, context.Cause(ctx))
		case <-t.C:
		}
		delay = min(2*delay, lockPollMax)
	}
	var once sync.Once
	var uerr error
	return func() error {
		once.Do(func() {
			uerr = fsutil.Unlock(f)
			if cerr := f.Close(); uerr == nil {
				uerr = cerr
			}
			if uerr != nil {
				uerr = fmt.Errorf("unlocking %s: %w", p, uerr)
			}
		})
		return uerr
	}, nil
}
