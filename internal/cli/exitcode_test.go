package cli_test

import (
	"fmt"
	"testing"

	"github.com/ferryhq/ferry/internal/cli"
	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/install"
)

// Each kind of the vocabulary has one exit code (docs/errors.md), whichever
// package declared the sentinel.
func TestExitCodePerKind(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{errdef.New(errdef.ErrInvalid, "x"), 2},
		{errdef.New(errdef.ErrNotFound, "x"), 3},
		{errdef.New(errdef.ErrUnauthorized, "x"), 4},
		{errdef.New(errdef.ErrVerification, "x"), 5},
		{errdef.New(errdef.ErrDigestMismatch, "x"), 5},
		{errdef.New(errdef.ErrUnsafeArchive, "x"), 5},
		{&ferryhttp.StatusError{URL: "http://mirror/f.tar.gz", Code: 404}, 3},
		{&ferryhttp.StatusError{URL: "http://mirror/f.tar.gz", Code: 502}, 1},
		{install.ErrNotLocked, 3},
		{&install.ConflictError{}, 3},
		{install.ErrUnverified, 5},
		{install.ErrCorruptArchive, 1},
	} {
		if got := cli.ExitCode(fmt.Errorf("doing a thing: %w", c.err)); got != c.code {
			t.Errorf("%q: exit %d, want %d", c.err, got, c.code)
		}
	}
}
