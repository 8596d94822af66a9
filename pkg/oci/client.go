package oci

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// Location names a repository in a registry.
type Location struct {
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
}

func (l Location) String() string {
	if l.Repository == "" {
		return l.Registry
	}
	return l.Registry + "/" + l.Repository
}

// Client reaches registries. One Client is meant to serve a whole run: it
// caches auth tokens across repositories and reuses connections.
type Client struct {
	auth      *auth.Client
	plainHTTP func(host string) bool
	layout    Layout

	mu      sync.Mutex
	layouts map[string]Layout // oci-layout: locations, opened once
}

// ClientOptions configure a Client.
type ClientOptions struct {
	// HTTP is the client requests go through (retries, TLS, proxies).
	HTTP *http.Client
	// Credentials looks up registry credentials; nil means anonymous.
	Credentials credentials.Store
	// Credential, when set, is asked for the hosts Credentials has nothing
	// for (OAuthCredentials, GCPCredentials).
	Credential auth.CredentialFunc
	// PlainHTTP reports whether a host is reached over plain HTTP.
	PlainHTTP func(host string) bool
	// UserAgent is sent with every request.
	UserAgent string
	// Layout, when set, serves every repository from an OCI layout (a
	// bundle) instead of the network.
	Layout Layout
}

// NewClient returns a Client.
func NewClient(opts ClientOptions) *Client {
	hc := opts.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	ac := &auth.Client{Client: hc, Cache: auth.NewCache()}
	var store auth.CredentialFunc
	if opts.Credentials != nil {
		store = credentials.Credential(opts.Credentials)
	}
	switch {
	case opts.Credential != nil:
		ac.Credential = ChainCredentials(store, opts.Credential)
	case store != nil:
		ac.Credential = store
	}
	if opts.UserAgent != "" {
		ac.SetUserAgent(opts.UserAgent)
	}
	plain := opts.PlainHTTP
	if plain == nil {
		plain = func(string) bool { return false }
	}
	return &Client{auth: ac, plainHTTP: plain, layout: opts.Layout}
}

// Repository returns an oras-go repository handle for loc.
func (c *Client) Repository(loc Location) (*remote.Repository, error) {
	ref := registry.Reference{Registry: loc.Registry, Repository: loc.Repository}
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("invalid repository %q: %w", loc, err)
	}
	return &remote.Repository{
		Client:    c.auth,
		Reference: ref,
		PlainHTTP: c.plainHTTP(loc.Registry),
		// One page of 1000 tags keeps long tag lists to a few requests.
		TagListPageSize: 1000,
		TagListMaxPages: 1000,
	}, nil
}

// Registry returns an oras-go registry handle for host (used by login).
func (c *Client) Registry(host string) (*remote.Registry, error) {
	reg, err := remote.NewRegistry(host)
	if err != nil {
		return nil, fmt.Errorf("invalid registry %q: %w", host, err)
	}
	reg.Client = c.auth
	reg.PlainHTTP = c.plainHTTP(host)
	return reg, nil
}

// Tags lists every tag of loc, following pagination.
func (c *Client) Tags(ctx context.Context, loc Location) ([]string, error) {
	if l, prefix, err := c.layoutFor(ctx, loc); err != nil || l != nil {
		if err != nil {
			return nil, err
		}
		return c.layoutTags(ctx, l, prefix, loc)
	}
	repo, err := c.Repository(loc)
	if err != nil {
		return nil, err
	}
	var tags []string
	last := ""
	for range repo.TagListMaxPages {
		// oras-go follows Link headers; some registries (go-containerregistry's,
		// some proxies) cut the list at n and send none. A full last page
		// then means "ask again after its last tag".
		full, fresh, pageLast := false, 0, ""
		err = repo.Tags(ctx, last, func(page []string) error {
			full = len(page) >= repo.TagListPageSize
			if len(page) > 0 {
				pageLast = page[len(page)-1]
			}
			for _, tag := range page {
				// A registry that ignores last= (or answers a last past
				// the end with the whole list) must not repeat tags.
				if last != "" && tag <= last {
					continue
				}
				tags = append(tags, tag)
				fresh++
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing tags of %s: %w", loc, classify(loc.Registry, err))
		}
		if !full || fresh == 0 {
			return tags, nil
		}
		last = pageLast
	}
	return nil, fmt.Errorf("listing tags of %s: more than %d pages of %d tags", loc, repo.TagListMaxPages, repo.TagListPageSize)
}
