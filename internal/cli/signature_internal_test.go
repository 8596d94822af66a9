package cli

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
)

// A failed fetch of Sigstore's root is kept for a minute, then tried again
// (a long-running follow gets over a network blip); within the minute it
// is not fetched again.
func TestTrustedRootFailureIsRetried(t *testing.T) {
	f := cmdutil.NewFactory("test")
	dir := t.TempDir()
	f.Getenv = func(k string) string {
		switch k {
		case "XDG_CACHE_HOME", "XDG_CONFIG_HOME":
			return filepath.Join(dir, k)
		}
		return ""
	}
	blip := errors.New("an earlier failure")
	o := &signatureOptions{}

	o.root = trustedRoot{err: blip, at: time.Now().Add(-10 * time.Second)}
	tr, err := o.loadTrustedRoot(context.Background(), newCommandDeps(f))
	if err != nil || tr.err != blip {
		t.Fatalf("within the minute: %+v, %v", tr, err)
	}

	o.root = trustedRoot{err: blip, at: time.Now().Add(-2 * time.Minute)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the fetch is attempted and fails at once, whatever the network
	tr, err = o.loadTrustedRoot(ctx, newCommandDeps(f))
	if err != nil || tr.err == nil || tr.err == blip || time.Since(tr.at) > time.Minute {
		t.Fatalf("after the minute: %+v, %v", tr, err)
	}
}
