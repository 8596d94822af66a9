package e2e

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

var b64 = base64.RawURLEncoding

// registryJWT signs a token distribution's token auth accepts: issuer
// e2e-issuer, audience e2e-registry, pull and push on repos.
func registryJWT(t *testing.T, key ed25519.PrivateKey, repos ...string) string {
	t.Helper()
	var access []map[string]any
	for _, r := range repos {
		access = append(access, map[string]any{"type": "repository", "name": r, "actions": []string{"pull", "push"}})
	}
	now := time.Now().Unix()
	claims, _ := json.Marshal(map[string]any{
		"iss": "e2e-issuer", "sub": "falco", "aud": "e2e-registry", "exp": now + 3600, "nbf": now - 10, "iat": now,
		"jti": fmt.Sprint(time.Now().UnixNano()), "access": access,
	})
	header, _ := json.Marshal(map[string]string{"alg": "EdDSA", "kid": "e2e", "typ": "JWT"})
	signing := b64.EncodeToString(header) + "." + b64.EncodeToString(claims)
	return signing + "." + b64.EncodeToString(ed25519.Sign(key, []byte(signing)))
}

// tokenAuthRegistry starts a registry process with distribution's token
// auth trusting key (as a JWKS), and a realm that refuses everything: only
// a token obtained elsewhere opens it.
func tokenAuthRegistry(t *testing.T, e *env, pub ed25519.PublicKey, realmHits *atomic.Int32) *registryProcess {
	t.Helper()
	realm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		realmHits.Add(1)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
	}))
	t.Cleanup(realm.Close)
	jwks := e.write("jwks.json", fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"e2e","alg":"EdDSA","use":"sig"}]}`, b64.EncodeToString(pub)))
	return startRegistry(t, fmt.Sprintf("auth:\n  token:\n    realm: %s/token\n    service: e2e-registry\n    issuer: e2e-issuer\n    jwks: %s\n", realm.URL, jwks))
}

// TestRegistryAuthOAuth runs falcoctl's client-credentials flow end to end:
// a real OAuth2 token endpoint issues the access token, and a registry with
// token auth takes it as its bearer token.
func TestRegistryAuthOAuth(t *testing.T) {
	t.Parallel()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	var realmHits, grants atomic.Int32
	reg := tokenAuthRegistry(t, e, pub, &realmHits)
	var lastScope atomic.Value
	oauth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth2/token" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("grant_type") != "client_credentials" || id != "falco" || secret != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		grants.Add(1)
		lastScope.Store(r.PostForm.Get("scope"))
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, registryJWT(t, key, "acme/rules/my-rules"))
	}))
	defer oauth.Close()
	repo := reg.Host + "/acme/rules/my-rules"
	src := e.write("src/my_rules.yaml", "- rule: oauth\n")
	creds := filepath.Join(e.Home, ".config", "falcoctl", "clientcredentials.json")

	// No credentials: the registry refuses (exit 4).
	oneLine(t, e.ferry("registry", "push", repo+":latest", src, "--type", "rulesfile", "--version", "1.0.0"), 4)
	// Wrong client secret: refused by the token endpoint, nothing stored.
	oneLine(t, e.ferry("registry", "auth", "oauth", reg.Host, "--token-url", oauth.URL+"/oauth2/token", "--client-id", "falco", "--client-secret", "nope"), 4, "invalid_client")
	if _, err := os.Stat(creds); !os.IsNotExist(err) {
		t.Errorf("credentials stored after a refusal: %v", err)
	}
	oneLine(t, e.ferry("registry", "auth", "oauth", reg.Host, "--client-id", "falco", "--client-secret", "s3cret"), 2, "--token-url")

	r := e.ok("registry", "auth", "oauth", reg.Host, "--token-url", oauth.URL+"/oauth2/token", "--client-id", "falco", "--client-secret", "s3cret", "--scopes", "registry:pull,registry:push")
	if !strings.Contains(r.Stdout, creds) {
		t.Errorf("auth oauth said: %s", r.Stdout)
	}
	// falcoctl's file: host → x/oauth2 clientcredentials.Config fields.
	var stored map[string]struct {
		ClientID, ClientSecret, TokenURL string
		Scopes                           []string
	}
	if err := json.Unmarshal([]byte(e.read(".config", "falcoctl", "clientcredentials.json")), &stored); err != nil {
		t.Fatal(err)
	}
	if c := stored[reg.Host]; c.ClientID != "falco" || c.ClientSecret != "s3cret" || c.TokenURL != oauth.URL+"/oauth2/token" || strings.Join(c.Scopes, ",") != "registry:pull,registry:push" {
		t.Errorf("stored %+v", stored)
	}
	if fi, err := os.Stat(creds); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode: %v %v", fi.Mode(), err)
	}

	// Every registry request now carries the endpoint's access token.
	before, realmBefore := grants.Load(), realmHits.Load()
	e.ok("registry", "push", repo+":latest", src, "--type", "rulesfile", "--version", "1.0.0")
	e.ok("artifact", "install", repo+":1.0.0")
	if got := e.read("falco", "my_rules.yaml"); got != "- rule: oauth\n" {
		t.Errorf("installed %q", got)
	}
	e.ok("registry", "pull", repo+":latest", "--dest-dir", e.path("pulled"))
	if _, err := os.Stat(e.path("pulled", "my_rules.yaml.tar.gz")); err != nil {
		t.Error(err)
	}
	if n := grants.Load() - before; n < 3 {
		t.Errorf("%d token grants for three commands", n)
	}
	if s, _ := lastScope.Load().(string); s != "registry:pull registry:push" {
		t.Errorf("scope sent: %q", s)
	}
	if realmBefore == 0 {
		t.Errorf("the anonymous push did not ask the realm: is the registry using token auth?")
	}
	if n := realmHits.Load() - realmBefore; n != 0 {
		t.Errorf("the registry's own token realm was asked %d times", n)
	}
	// The docker credential store is not involved.
	if _, err := os.Stat(e.path("docker", "config.json")); !os.IsNotExist(err) {
		t.Errorf("docker config written: %v", err)
	}
}

// TestRegistryAuthBasic is falcoctl's registry auth basic: the docker
// credential store, as registry login.
func TestRegistryAuthBasic(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	reg := startRegistry(t, fmt.Sprintf("auth:\n  htpasswd:\n    realm: e2e\n    path: %s\n", e.write("htpasswd", "alice:"+string(hash)+"\n")))
	repo := reg.Host + "/acme/rules/my-rules"
	src := e.write("src/my_rules.yaml", "- rule: basic\n")

	oneLine(t, e.ferry("registry", "auth", "basic", "-u", "alice", "-p", "wrong", reg.Host), 4)
	if _, err := os.Stat(e.path("docker", "config.json")); !os.IsNotExist(err) {
		t.Errorf("credentials stored after a refusal: %v", err)
	}
	// No terminal to ask on: the flags are needed.
	oneLine(t, e.ferry("registry", "auth", "basic", reg.Host), 2, "--username")
	oneLine(t, e.ferry("registry", "auth", "basic", reg.Host, "-u", "alice"), 2, "--password")
	// A reference is taken for its registry, as falcoctl does.
	r := e.ok("registry", "auth", "basic", "-u", "alice", "-p", "s3cret", repo)
	if r.Stdout != "Logged in to "+reg.Host+" as alice\n" {
		t.Errorf("auth basic said %q", r.Stdout)
	}
	if cfg := e.read("docker", "config.json"); !strings.Contains(cfg, reg.Host) {
		t.Errorf("credentials not in the docker config: %s", cfg)
	}
	e.ok("registry", "push", repo+":latest", src, "--type", "rulesfile", "--version", "1.0.0")
	e.ok("registry", "logout", reg.Host)
	// --password-stdin, and -o json.
	cmd := e.command("registry", "auth", "basic", reg.Host, "-u", "alice", "--password-stdin", "-o", "json")
	cmd.Stdin = strings.NewReader("s3cret\n")
	out, err := cmd.Output()
	var v struct{ Registry, Method, User string }
	if err != nil || json.Unmarshal(out, &v) != nil || v.Registry != reg.Host || v.Method != "basic" || v.User != "alice" {
		t.Errorf("auth basic --password-stdin -o json: %s %v", out, err)
	}
	e.ok("registry", "pull", repo+":latest", "--dest-dir", e.path("pulled"))
}

// TestRegistryAuthGCP uses Google's Application Default Credentials through
// both of their loopback-testable sources: a service-account key file
// (GOOGLE_APPLICATION_CREDENTIALS, whose token_uri is a real JWT-bearer
// token endpoint here) and the metadata server (GCE_METADATA_HOST, as on
// GKE with Workload Identity). The registry takes oauth2accesstoken and the
// access token as basic credentials, as Artifact Registry does.
func TestRegistryAuthGCP(t *testing.T) {
	t.Parallel()
	const accessToken = "ya29.e2e-access-token"
	hash, err := bcrypt.GenerateFromPassword([]byte(accessToken), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	var saGrants, mdGrants atomic.Int32
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/token": // service account: the JWT-bearer grant, signature checked
			_ = r.ParseForm()
			parts := strings.Split(r.PostForm.Get("assertion"), ".")
			var claims struct{ Iss, Scope, Aud string }
			sig, _ := b64.DecodeString(parts[len(parts)-1])
			payload, _ := b64.DecodeString(parts[min(1, len(parts)-1)])
			sum := sha256.Sum256([]byte(strings.Join(parts[:len(parts)-1], ".")))
			if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || len(parts) != 3 ||
				rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, sum[:], sig) != nil ||
				json.Unmarshal(payload, &claims) != nil || claims.Iss != "falco@e2e.iam.gserviceaccount.com" || claims.Scope != "https://www.googleapis.com/auth/cloud-platform" {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
			saGrants.Add(1)
		case "/computeMetadata/v1/instance/service-accounts/default/token":
			if r.Header.Get("Metadata-Flavor") != "Google" {
				http.Error(w, "no flavor", http.StatusForbidden)
				return
			}
			mdGrants.Add(1)
		default:
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, accessToken)
	}))
	defer tokens.Close()

	e := newEnv(t)
	reg := startRegistry(t, fmt.Sprintf("auth:\n  htpasswd:\n    realm: e2e\n    path: %s\n", e.write("htpasswd", "oauth2accesstoken:"+string(hash)+"\n")))
	repo := reg.Host + "/acme/rules/my-rules"
	src := e.write("src/my_rules.yaml", "- rule: gcp\n")
	cfg := e.path("config", "ferry", "config.yaml")
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "e2e", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
		"client_email": "falco@e2e.iam.gserviceaccount.com", "client_id": "1", "token_uri": tokens.URL + "/token",
	})
	saFile := e.write("sa.json", string(sa))
	// No credentials anywhere (the metadata server is a closed loopback
	// port, so nothing leaves the machine): exit 4, nothing registered.
	closed := httptest.NewServer(http.NotFoundHandler())
	closedHost := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()
	base := e.vars
	e.vars = append(base, "GCE_METADATA_HOST="+closedHost)
	oneLine(t, e.ferry("registry", "auth", "gcp", reg.Host), 4, "Google")
	if _, err := os.Stat(cfg); !os.IsNotExist(err) {
		t.Errorf("config written after a failure: %v", err)
	}

	// The service-account file.
	e.vars = append(base, "GOOGLE_APPLICATION_CREDENTIALS="+saFile)
	r := e.ok("registry", "auth", "gcp", reg.Host)
	if !strings.Contains(r.Stdout, reg.Host+" uses Google application default credentials") {
		t.Errorf("auth gcp said %q", r.Stdout)
	}
	if got := e.read("config", "ferry", "config.yaml"); !strings.Contains(got, "registry:\n    auth:\n        gcp:\n            - registry: "+reg.Host+"\n") {
		t.Errorf("config holds:\n%s", got)
	}
	e.ok("registry", "push", repo+":latest", src, "--type", "rulesfile", "--version", "1.0.0")
	e.ok("artifact", "install", repo+":1.0.0")
	if got := e.read("falco", "my_rules.yaml"); got != "- rule: gcp\n" {
		t.Errorf("installed %q", got)
	}
	if saGrants.Load() < 2 {
		t.Errorf("%d service-account grants", saGrants.Load())
	}
	// Registering again keeps one entry.
	e.ok("registry", "auth", "gcp", reg.Host)
	if got := e.read("config", "ferry", "config.yaml"); strings.Count(got, reg.Host) != 1 {
		t.Errorf("config holds:\n%s", got)
	}

	// The metadata server (GKE Workload Identity, GCE), with no key file.
	e.vars = append(base, "GCE_METADATA_HOST="+strings.TrimPrefix(tokens.URL, "http://"))
	e.ok("registry", "pull", repo+":1.0.0", "--dest-dir", e.path("pulled"))
	if mdGrants.Load() == 0 {
		t.Errorf("the metadata server was not asked")
	}
	// Without registry.auth.gcp for the host, no Google token is used.
	e.vars = append(base, "GOOGLE_APPLICATION_CREDENTIALS="+saFile, "FERRY_CONFIG="+e.write("other.yaml", "registry:\n  auth:\n    gcp: [{registry: elsewhere.example}]\n"))
	oneLine(t, e.ferry("registry", "pull", repo+":1.0.0", "--dest-dir", e.path("pulled")), 4)
}
