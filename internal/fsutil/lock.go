package fsutil

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// Polling bounds while a lock is held elsewhere.
const (
	lockPollMin = 2 * time.Millisecond
	lockPollMax = 100 * time.Millisecond
)

// Lock takes an exclusive flock on path (created with perm if needed),
// waiting while another process or goroutine holds it, until ctx is done.
// The returned unlock releases it; calling it more than once is harmless.
// The kernel releases the lock if the process dies.
func Lock(ctx context.Context, path string, perm fs.FileMode) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, err
	}
	for delay := lockPollMin; ; delay = min(2*delay, lockPollMax) {
		ok, err := TryLock(f)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if ok {
			break
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = f.Close()
			return nil, fmt.Errorf("waiting for the lock %s: %w", path, context.Cause(ctx))
		case <-t.C:
		}
	}
	var once sync.Once
	var uerr error
	return func() error {
		once.Do(func() {
			uerr = Unlock(f)
			if cerr := f.Close(); uerr == nil {
				uerr = cerr
			}
		})
		return uerr
	}, nil
}
