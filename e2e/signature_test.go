package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ferryhq/ferry/internal/testutil"
)

const (
	signer = "release@acme.example"
	issuer = "https://token.actions.example"
)

// signedIndex is rulesIndex with a keyless signature policy on rules.
func signedIndex(host string) string {
	return fmt.Sprintf(`- name: rules
  type: rulesfile
  registry: %s
  repository: acme/rules/my-rules
  signature:
    cosign:
      certificate-identity: %s
      certificate-oidc-issuer: %s
- name: unsigned
  type: rulesfile
  registry: %s
  repository: acme/rules/other
`, host, signer, issuer, host)
}

// signedRulesRepo is where signedIndex's rules live.
const signedRulesRepo = "acme/rules/my-rules"

// publishSigned publishes rules 1.0.0, 1.1.0 and 1.2.0 under signedIndex in
// a fresh registry and returns it with a test Sigstore to sign them.
func publishSigned(t *testing.T, e *env) (*testutil.Registry, *testutil.Sigstore) {
	t.Helper()
	reg := testutil.NewRegistry(t)
	publishRules(t, e, reg.Host+"/"+signedRulesRepo, "1.0.0", "1.1.0", "1.2.0")
	addIndex(t, e, "acme", signedIndex(reg.Host))
	return reg, testutil.NewSigstore(t)
}

// attachSigned signs rules VERSION as who and attaches the Sigstore bundle
// as a referrer.
func attachSigned(t *testing.T, e *env, reg *testutil.Registry, ss *testutil.Sigstore, version, who string) {
	t.Helper()
	testutil.AttachBundle(t, reg.Host, signedRulesRepo, version, ss.Bundle(digest.Digest(digestOf(t, e, "rules:"+version)), who, issuer))
}

func TestKeylessSignatures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg, ss := publishSigned(t, e)
	rootFile := ss.WriteTrustedRoot(e.path("trusted_root.json"))
	attachSigned(t, e, reg, ss, "1.0.0", signer)
	// 1.1.0 is signed by someone else; 1.2.0 is not signed.
	attachSigned(t, e, reg, ss, "1.1.0", "mallory@acme.example")

	// Keyless with no trusted root: ferry fetches Sigstore's over TUF; here
	// the proxy refuses it (as a closed network would): exit 5, and a hint.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no way out", http.StatusForbidden)
	}))
	defer proxy.Close()
	vars := e.vars
	e.vars = append(slices.Clone(vars), "HTTPS_PROXY="+proxy.URL, "https_proxy="+proxy.URL)
	r := e.ferry("artifact", "verify", "rules:1.0.0")
	oneLine(t, r, 5, "fetching Sigstore's trusted root from https://tuf-repo-cdn.sigstore.dev over TUF failed", "hint: pass --trusted-root FILE")
	e.vars = vars

	r = e.ok("artifact", "verify", "rules:1.0.0", "--trusted-root", rootFile)
	if !strings.Contains(r.Stdout, "ok  signature") || !strings.Contains(r.Stdout, "signed by "+signer) {
		t.Errorf("stdout:\n%s", r.Stdout)
	}
	r = e.ferry("artifact", "verify", "rules:1.1.0", "--trusted-root", rootFile)
	oneLine(t, r, 5, `expected SAN value "`+signer+`", got "mallory@acme.example"`)
	r = e.ferry("artifact", "verify", "rules:1.2.0", "--trusted-root", rootFile)
	oneLine(t, r, 5, "no Sigstore bundle referrer")
	oneLine(t, e.ferry("artifact", "verify", "rules:1.0.0", "--trusted-root", e.write("bad.json", "{}")), 2, "trusted root")

	// The trusted root from the environment, as every flag.
	e.vars = append(e.vars, "FERRY_TRUSTED_ROOT="+rootFile)
	r = e.ok("artifact", "install", "rules:1.0.0")
	if !strings.Contains(e.read("falco", "my_rules.yaml"), "version 1.0.0") {
		t.Fatalf("1.0.0 not installed:\n%s", r.Stdout)
	}
	lock := e.read("state", "ferry.lock")

	// A wrongly signed and an unsigned version install nothing: exit 5,
	// 1.0.0 stays and the lock file is untouched.
	for _, ref := range []string{"rules:1.1.0", "rules:1.x"} {
		r = e.ferry("artifact", "install", ref)
		oneLine(t, r, 5, "refusing to install rules 1.")
		if got := e.read("falco", "my_rules.yaml"); !strings.Contains(got, "version 1.0.0") {
			t.Errorf("%s: the installed file changed:\n%s", ref, got)
		}
		if e.read("state", "ferry.lock") != lock {
			t.Errorf("%s: the lock file changed", ref)
		}
	}

	// --no-verify installs, loudly.
	r = e.ok("artifact", "install", "rules:1.x", "--no-verify")
	if !strings.Contains(r.Stderr, "warning: --no-verify: installing rules 1.2.0") || !strings.Contains(e.read("falco", "my_rules.yaml"), "version 1.2.0") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	}
}

// A bundle carries the signatures of what it holds: an air-gapped install
// from it verifies them with no registry, and refuses an unsigned one.
func TestSignedBundleAirGapped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg, ss := publishSigned(t, e)
	// 1.0.0: a Sigstore bundle referrer; 1.1.0: cosign's legacy .sig tag;
	// 1.2.0: not signed.
	attachSigned(t, e, reg, ss, "1.0.0", signer)
	ss.SignLegacy(reg.Host, signedRulesRepo, "1.1.0", signer, issuer)
	bundles := map[string]string{}
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		bundles[v] = e.path("rules-" + v + ".tar")
		e.ok("artifact", "bundle", "rules:"+v, "-O", bundles[v])
	}

	reg.Reset()
	reg.SetFault(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	air := newEnv(t)
	rootFile := ss.WriteTrustedRoot(air.path("trusted_root.json"))
	for _, v := range []string{"1.0.0", "1.1.0"} {
		air.ok("artifact", "install", "--from", bundles[v], "rules:"+v, "--trusted-root", rootFile)
		if got := air.read("falco", "my_rules.yaml"); !strings.Contains(got, "version "+v) {
			t.Errorf("%s from its bundle: %q", v, got)
		}
	}
	// verify --from checks a bundle before it is used: every blob and the
	// signature, with no network.
	r := air.ok("artifact", "verify", "--from", bundles["1.0.0"], "rules:1.0.0", "--trusted-root", rootFile)
	if !strings.Contains(r.Stdout, "ok  signature") || !strings.Contains(r.Stdout, "ok  blob") {
		t.Errorf("verify --from:\n%s", r.Stdout)
	}
	oneLine(t, air.ferry("artifact", "verify", "--from", bundles["1.2.0"], "rules:1.2.0", "--trusted-root", rootFile), 5, "signature")
	r = air.ferry("artifact", "install", "--from", bundles["1.2.0"], "rules:1.2.0", "--trusted-root", rootFile)
	oneLine(t, r, 5, "refusing to install rules 1.2.0")
	if got := air.read("falco", "my_rules.yaml"); !strings.Contains(got, "version 1.1.0") {
		t.Errorf("a refused install changed the file: %q", got)
	}
	if n := len(reg.Requests()); n != 0 {
		t.Errorf("air-gapped installs made %d registry requests", n)
	}
}

// With the primary down, the signature is checked where the artifact comes
// from: a mirror that promote filled, signatures included.
func TestSignatureFromMirror(t *testing.T) {
	t.Parallel()
	primary, mirror := testutil.NewRegistry(t), testutil.NewRegistry(t)
	e := newEnv(t)
	repo := "acme/rules/my-rules"
	publishRules(t, e, primary.Host+"/"+repo, "1.0.0")
	addIndex(t, e, "acme", fmt.Sprintf(`- name: rules
  type: rulesfile
  registry: %s
  repository: %s
  signature:
    cosign:
      certificate-identity: %s
      certificate-oidc-issuer: %s
  mirrors:
    - registry: %s
      repository: cache/my-rules
`, primary.Host, repo, signer, issuer, mirror.Host))
	ss := testutil.NewSigstore(t)
	testutil.AttachBundle(t, primary.Host, repo, "1.0.0", ss.Bundle(digest.Digest(digestOf(t, e, "rules:1.0.0")), signer, issuer))
	e.ok("artifact", "promote", primary.Host+"/"+repo+":1.0.0", mirror.Host+"/cache/my-rules:1.0.0", "--trusted-root", ss.WriteTrustedRoot(e.path("root.json")))

	primary.SetFault(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusNotFound)
		return true
	})
	r := e.ok("artifact", "install", "rules:1.0.0", "--trusted-root", e.path("root.json"), "-o", "json")
	if !strings.Contains(r.Stdout, `"source": "oci://`+mirror.Host) || !strings.Contains(e.read("falco", "my_rules.yaml"), "version 1.0.0") {
		t.Errorf("install from the mirror:\n%s\n%s", r.Stdout, r.Stderr)
	}
}
