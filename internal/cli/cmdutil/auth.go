package cmdutil

import (
	"context"
	"strings"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// basicAuthStore answers with the config's registry.auth.basic credentials
// for their registries (as falcoctl logs in with them on startup) and
// defers to the credential store for every other host and for login and
// logout.
type basicAuthStore struct {
	credentials.Store
	basic []BasicAuth
}

func (s *basicAuthStore) Get(ctx context.Context, server string) (auth.Credential, error) {
	for _, b := range s.basic {
		if sameRegistry(b.Registry, server) {
			return auth.Credential{Username: b.User, Password: b.Password}, nil
		}
	}
	return s.Store.Get(ctx, server)
}

// sameRegistry compares a configured registry (which may carry a scheme
// or a trailing slash) with a host.
func sameRegistry(configured, host string) bool {
	configured = strings.TrimPrefix(strings.TrimPrefix(configured, "https://"), "http://")
	return strings.EqualFold(strings.TrimSuffix(configured, "/"), host)
}
