package install

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/ferryhq/ferry/internal/fsutil"
)

// lockFileName is the lock in the state directory. (ferry.lock is the
// name of the lock file of resolved versions, unrelated.)
const lockFileName = ".lock"

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
	unlockFile, err := fsutil.Lock(ctx, p, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", stateDir, err)
	}
	return func() error {
		if err := unlockFile(); err != nil {
			return fmt.Errorf("unlocking %s: %w", p, err)
		}
		return nil
	}, nil
}
