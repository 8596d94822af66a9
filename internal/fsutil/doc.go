// Package fsutil holds the few file system operations ferry's packages share:
// atomic file replacement with fsync, directory fsync, and advisory file
// locks.
package fsutil
