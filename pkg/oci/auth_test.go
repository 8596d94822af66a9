package oci_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2/clientcredentials"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ferryhq/ferry/pkg/oci"
)

// The file is falcoctl's: what falcoctl writes (x/oauth2's
// clientcredentials.Config marshalled) ferry reads, and the other way round.
func TestClientCredentialsFileIsFalcoctls(t *testing.T) {
	path := filepath.Join(t.TempDir(), "falcoctl", "clientcredentials.json")
	written, err := json.Marshal(map[string]*clientcredentials.Config{
		"a.example": {ClientID: "id-a", ClientSecret: "s-a", TokenURL: "https://auth/a", Scopes: []string{"x"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, written, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := oci.ReadClientCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(oci.ClientCredentials{ClientID: "id-a", ClientSecret: "s-a", TokenURL: "https://auth/a", Scopes: []string{"x"}}, got["a.example"]); diff != "" {
		t.Errorf("read falcoctl's file: %s", diff)
	}
	if err := oci.WriteClientCredentials(path, "b.example:5000", oci.ClientCredentials{ClientID: "id-b", ClientSecret: "s-b", TokenURL: "http://auth/b"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var asFalcoctl map[string]*clientcredentials.Config
	if err := json.Unmarshal(data, &asFalcoctl); err != nil {
		t.Fatal(err)
	}
	if a, b := asFalcoctl["a.example"], asFalcoctl["b.example:5000"]; a == nil || a.ClientID != "id-a" || a.Scopes[0] != "x" || b == nil || b.ClientSecret != "s-b" || b.TokenURL != "http://auth/b" {
		t.Errorf("falcoctl would read %s", data)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v %v", fi.Mode(), err)
	}
	if none, err := oci.ReadClientCredentials(filepath.Join(t.TempDir(), "missing.json")); err != nil || len(none) != 0 {
		t.Errorf("missing file: %v %v", none, err)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := oci.ReadClientCredentials(path); err == nil {
		t.Errorf("a malformed file was read")
	}
}

func tokenEndpoint(t *testing.T, grants *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if id != "falco" || secret != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		n := grants.Add(1)
		fmt.Fprintf(w, `{"access_token":"token-%d","refresh_token":"refresh-%d","token_type":"Bearer","expires_in":3600}`, n, n)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestOAuthCredentials(t *testing.T) {
	var grants atomic.Int32
	srv := tokenEndpoint(t, &grants)
	ctx := context.Background()
	good := oci.ClientCredentials{ClientID: "falco", ClientSecret: "s3cret", TokenURL: srv.URL}
	bad := oci.ClientCredentials{ClientID: "falco", ClientSecret: "wrong", TokenURL: srv.URL}

	if err := oci.CheckClientCredentials(ctx, srv.Client(), "reg.example", good); err != nil {
		t.Fatal(err)
	}
	if err := oci.CheckClientCredentials(ctx, srv.Client(), "reg.example", bad); !errors.Is(err, oci.ErrUnauthorized) {
		t.Errorf("refused credentials: %v", err)
	}

	creds := oci.OAuthCredentials(srv.Client(), map[string]oci.ClientCredentials{"reg.example": good, "other.example": bad})
	before := grants.Load()
	for range 3 {
		cred, err := creds(ctx, "reg.example")
		if err != nil || cred.AccessToken == "" || cred.RefreshToken == "" || cred.Username != "" {
			t.Fatalf("credential: %+v %v", cred, err)
		}
	}
	if n := grants.Load() - before; n != 1 {
		t.Errorf("%d grants for three requests: the token is not reused", n)
	}
	if cred, err := creds(ctx, "unknown.example"); err != nil || cred != auth.EmptyCredential {
		t.Errorf("unknown host: %+v %v", cred, err)
	}
	if _, err := creds(ctx, "other.example"); !errors.Is(err, oci.ErrUnauthorized) {
		t.Errorf("refused at the endpoint: %v", err)
	}
	// An unreachable endpoint is no authentication failure.
	srv2 := httptest.NewServer(http.NotFoundHandler())
	srv2.Close()
	down := oci.OAuthCredentials(srv.Client(), map[string]oci.ClientCredentials{"reg.example": {ClientID: "a", ClientSecret: "b", TokenURL: srv2.URL}})
	if _, err := down(ctx, "reg.example"); err == nil || errors.Is(err, oci.ErrUnauthorized) {
		t.Errorf("unreachable endpoint: %v", err)
	}
}

func TestChainCredentials(t *testing.T) {
	ctx := context.Background()
	static := func(host string, cred auth.Credential) auth.CredentialFunc { return auth.StaticCredential(host, cred) }
	chain := oci.ChainCredentials(nil, static("a", auth.Credential{Username: "first"}), static("a", auth.Credential{Username: "second"}), static("b", auth.Credential{AccessToken: "b"}))
	for host, want := range map[string]auth.Credential{"a": {Username: "first"}, "b": {AccessToken: "b"}, "c": auth.EmptyCredential} {
		if got, err := chain(ctx, host); err != nil || got != want {
			t.Errorf("%s: %+v %v", host, got, err)
		}
	}
	failing := oci.ChainCredentials(func(context.Context, string) (auth.Credential, error) {
		return auth.EmptyCredential, errors.New("boom")
	})
	if _, err := failing(ctx, "a"); err == nil {
		t.Errorf("an error was swallowed")
	}
}

func TestGCPCredentialsOnlyForListedHosts(t *testing.T) {
	// No lookup of Application Default Credentials happens for a host that
	// is not listed (this test has none and reaches no network).
	creds := oci.GCPCredentials(http.DefaultClient, []string{"europe-docker.pkg.dev"})
	if cred, err := creds(context.Background(), "ghcr.io"); err != nil || cred != auth.EmptyCredential {
		t.Errorf("unlisted host: %+v %v", cred, err)
	}
}
