package cli

import (
	"fmt"
	"strings"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/install"
)

// printUnverified warns, on stderr, about every HTTP mirror file installed
// with no digest to check it against (--allow-unverified).
func printUnverified(f *cmdutil.Factory, results []install.Result) {
	for _, r := range results {
		if r.Unverified && r.Status == install.StatusInstalled {
			fmt.Fprintf(f.IO.ErrOut, "warning: %s %s from %s was installed unverified: no digest covers it (it hashed to %s)\n", r.Name, r.Version, r.Source, r.Digest)
		}
	}
}

func isHTTPSource(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}
