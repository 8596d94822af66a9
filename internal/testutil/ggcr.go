package testutil

import (
	"io"
	"log"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// NewGGCRRegistry starts go-containerregistry's in-memory registry (the one
// crane and many CI setups use) behind the same recorder and faults as
// NewRegistry. It bends the spec where real registries do: tag lists are cut
// at n without a Link header, and the referrers API reports a manifest's
// config media type as its artifactType.
func NewGGCRRegistry(t testing.TB) *Registry {
	t.Helper()
	return serveRegistry(t, ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)), ggcr.WithReferrersSupport(true)), false)
}
