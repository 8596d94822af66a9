package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// printUnverified warns, on stderr, about every HTTP mirror file installed
// with no digest to check it against (--allow-unverified).
func printUnverified(errOut io.Writer, results []install.Result) {
	for _, r := range results {
		if r.Unverified && r.Status == install.StatusInstalled {
			fmt.Fprintf(errOut, "warning: %s %s from %s was installed unverified: no digest covers it (it hashed to %s)\n", r.Name, r.Version, r.Source, r.Digest)
		}
	}
}

// plainSource is where a result came from when that is no registry tag:
// the file of an HTTP mirror, or an OCI layout on disk ("" otherwise).
func plainSource(r install.Result) string {
	switch {
	case r.Tag == "" && (strings.HasPrefix(r.Source, "http://") || strings.HasPrefix(r.Source, "https://")):
		return r.Source
	case strings.HasPrefix(r.Registry, oci.LayoutScheme):
		if r.Tag != "" {
			return r.Registry + ":" + r.Tag
		}
		return r.Registry + "@" + r.Digest
	}
	return ""
}
