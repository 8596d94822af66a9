package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/google"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ferryhq/ferry/internal/fsutil"
)

// Registry authentication beyond the docker credential store, as falcoctl's
// `registry auth oauth` and `registry auth gcp` set it up. Each source is an
// auth.CredentialFunc; a Client tries the docker credential store first,
// then these, in order, and uses the first that has credentials for the
// host (falcoctl's order).

// ClientCredentials are OAuth2 client credentials for one registry. Its
// JSON is falcoctl's: x/oauth2's clientcredentials.Config marshalled with
// its Go field names, so ferry and falcoctl share one clientcredentials.json.
type ClientCredentials struct {
	ClientID       string
	ClientSecret   string
	TokenURL       string
	Scopes         []string
	EndpointParams url.Values
	AuthStyle      oauth2.AuthStyle
}

func (cc ClientCredentials) config() *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID: cc.ClientID, ClientSecret: cc.ClientSecret, TokenURL: cc.TokenURL,
		Scopes: cc.Scopes, EndpointParams: cc.EndpointParams, AuthStyle: cc.AuthStyle,
	}
}

// GCPUsername is the user name Google's Artifact Registry takes with an
// OAuth2 access token as the password.
const GCPUsername = "oauth2accesstoken"

// GCPScope is the scope falcoctl asks Application Default Credentials for.
const GCPScope = "https://www.googleapis.com/auth/cloud-platform"

// ReadClientCredentials reads falcoctl's clientcredentials.json (registry
// host → client credentials). A missing file holds none.
func ReadClientCredentials(path string) (map[string]ClientCredentials, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]ClientCredentials{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading client credentials: %w", err)
	}
	creds := map[string]ClientCredentials{}
	if err := json.Unmarshal(data, &creds); err != nil {
		return nil, fmt.Errorf("client credentials %s: %w", path, err)
	}
	return creds, nil
}

// WriteClientCredentials stores cc for host in the clientcredentials.json at
// path, keeping the other hosts' entries as they were. The file is written
// atomically, readable by its owner only.
func WriteClientCredentials(path, host string, cc ClientCredentials) error {
	all := map[string]json.RawMessage{}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &all); err != nil {
			return fmt.Errorf("client credentials %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("reading client credentials: %w", err)
	}
	entry, err := json.Marshal(cc) //nolint:gosec // G117: this is falcoctl's credentials file, written 0600, and the secret is its content
	if err != nil {
		return err
	}
	all[host] = entry
	if data, err = json.Marshal(all); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return fsutil.WriteFile(path, data, 0o600)
}

// oauthContext makes x/oauth2 use hc for token requests.
func oauthContext(ctx context.Context, hc *http.Client) context.Context {
	if hc == nil {
		return ctx
	}
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}

// tokenError gives a token endpoint's refusal the auth exit code and leaves
// other failures (an unreachable endpoint) as they are.
func tokenError(host, what string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return fmt.Errorf("%w: %s: %w", &AuthError{Host: host, Status: http.StatusUnauthorized}, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// CheckClientCredentials asks the token endpoint for a token with cc, as
// `falcoctl registry auth oauth` does before it stores them.
func CheckClientCredentials(ctx context.Context, hc *http.Client, host string, cc ClientCredentials) error {
	if _, err := cc.config().Token(oauthContext(ctx, hc)); err != nil {
		return tokenError(host, "getting a token from "+cc.TokenURL, err)
	}
	return nil
}

// OAuthCredentials returns the credentials of the hosts that byHost lists:
// an access token from the client-credentials grant at their token
// endpoint, which the registry takes as its bearer token (and the refresh
// token, when the endpoint gives one, as the identity token). Tokens are
// reused until they expire. Other hosts get no credentials.
func OAuthCredentials(hc *http.Client, byHost map[string]ClientCredentials) auth.CredentialFunc {
	var mu sync.Mutex
	sources := map[string]oauth2.TokenSource{}
	return func(ctx context.Context, host string) (auth.Credential, error) {
		cc, ok := byHost[host]
		if !ok {
			return auth.EmptyCredential, nil
		}
		mu.Lock()
		ts, ok := sources[host]
		if !ok {
			// The source outlives this request: its context only carries
			// the HTTP client.
			ts = cc.config().TokenSource(oauthContext(context.WithoutCancel(ctx), hc))
			sources[host] = ts
		}
		mu.Unlock()
		tok, err := ts.Token()
		if err != nil {
			return auth.EmptyCredential, tokenError(host, "OAuth2 token from "+cc.TokenURL, err)
		}
		return auth.Credential{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken}, nil
	}
}

// Application Default Credentials come from golang.org/x/oauth2/google, as
// in falcoctl: it was in the module graph already (no module added), adds
// cloud.google.com/go/compute/metadata and x/oauth2's own packages to the
// binary (about 370 kB), and covers every ADC source (service-account and
// authorized-user files, external accounts, the metadata server) that a
// hand-written reader of the file formats would not.

// GCPTokenSource finds Google's Application Default Credentials (the file
// GOOGLE_APPLICATION_CREDENTIALS names, gcloud's
// application_default_credentials.json, or the GCE/GKE metadata server),
// as falcoctl's `registry auth gcp` does; token requests go through hc.
func GCPTokenSource(ctx context.Context, hc *http.Client) (oauth2.TokenSource, error) {
	ts, err := google.DefaultTokenSource(oauthContext(context.WithoutCancel(ctx), hc), GCPScope)
	if err != nil {
		return nil, fmt.Errorf("finding Google application default credentials: %w", err)
	}
	return oauth2.ReuseTokenSource(nil, ts), nil
}

// GCPCredentials returns, for the hosts listed, the user oauth2accesstoken
// with an access token from Application Default Credentials as password.
// The credentials are looked up on the first request to such a host.
func GCPCredentials(hc *http.Client, hosts []string) auth.CredentialFunc {
	var mu sync.Mutex
	var ts oauth2.TokenSource
	return func(ctx context.Context, host string) (auth.Credential, error) {
		if !slices.Contains(hosts, host) {
			return auth.EmptyCredential, nil
		}
		mu.Lock()
		if ts == nil {
			s, err := GCPTokenSource(ctx, hc)
			if err != nil {
				mu.Unlock()
				return auth.EmptyCredential, err
			}
			ts = s
		}
		mu.Unlock()
		tok, err := ts.Token()
		if err != nil {
			return auth.EmptyCredential, tokenError(host, "Google access token", err)
		}
		return auth.Credential{Username: GCPUsername, Password: tok.AccessToken}, nil
	}
}

// ChainCredentials tries each source in turn and returns the first
// credentials one has for the host.
func ChainCredentials(sources ...auth.CredentialFunc) auth.CredentialFunc {
	return func(ctx context.Context, host string) (auth.Credential, error) {
		for _, src := range sources {
			if src == nil {
				continue
			}
			cred, err := src(ctx, host)
			if err != nil {
				return auth.EmptyCredential, err
			}
			if cred != auth.EmptyCredential {
				return cred, nil
			}
		}
		return auth.EmptyCredential, nil
	}
}

// CheckCredential pings host's registry with cred alone (no stored
// credentials), as falcoctl checks the registry after `registry auth gcp`.
func (c *Client) CheckCredential(ctx context.Context, host string, cred auth.CredentialFunc) error {
	reg, err := c.Registry(host)
	if err != nil {
		return err
	}
	ac := *c.auth
	ac.Credential = cred
	ac.Cache = auth.NewCache()
	reg.Client = &ac
	if err := reg.Ping(ctx); err != nil {
		return fmt.Errorf("checking %s: %w", host, classify(host, err))
	}
	return nil
}
