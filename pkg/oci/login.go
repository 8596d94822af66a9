package oci

import (
	"context"
	"fmt"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// Login checks cred against host and, when the registry accepts it, stores
// it in store (ferry registry login, falcoctl registry auth basic). A refusal is an *AuthError (errors.Is ErrUnauthorized).
func (c *Client) Login(ctx context.Context, store credentials.Store, host string, cred auth.Credential) error {
	reg, err := c.Registry(host)
	if err != nil {
		return err
	}
	if err := credentials.Login(ctx, store, reg, cred); err != nil {
		return fmt.Errorf("logging in to %s: %w", host, classify(host, err))
	}
	return nil
}

// Logout removes host's credentials from store. It reports false, and
// changes nothing, when store holds none for host.
func Logout(ctx context.Context, store credentials.Store, host string) (bool, error) {
	cred, err := store.Get(ctx, credentials.ServerAddressFromRegistry(host))
	if err != nil {
		return false, fmt.Errorf("reading the credentials for %s: %w", host, err)
	}
	if cred == auth.EmptyCredential {
		return false, nil
	}
	if err := credentials.Logout(ctx, store, host); err != nil {
		return false, fmt.Errorf("logging out of %s: %w", host, err)
	}
	return true, nil
}
