// Package fsutil holds the file system operations ferry's packages share,
// implemented once: atomic file and symbolic link replacement with fsync
// (with a hook for crash tests), file and directory fsync, and advisory
// file locks.
package fsutil
