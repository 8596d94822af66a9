package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// The registry refuses the layer (400) and the HTTP mirror answers 404 for
// it: the mirror's 404 is a not-found, as every other one (exit 3).
func TestHTTPMirrorLayerNotFound(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishBigRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0")
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") || len(reg.Answer(r).Body) <= 4096 {
			return false
		}
		w.WriteHeader(http.StatusBadRequest)
		return true
	})
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	addIndex(t, e, "acme", fmt.Sprintf(`- name: rules
  type: rulesfile
  registry: %s
  repository: acme/rules/my-rules
  mirrors:
    - url: %s/my-rules-{version}.{ext}
`, reg.Host, srv.URL))
	oneLine(t, e.ferry("artifact", "install", "rules:1.0.0"), 3, "400", srv.URL+"/my-rules-1.0.0.tar.gz", "404 Not Found")
}

// refusingServer serves dir, except that a path ending in a suffix code
// holds is answered with that status.
func refusingServer(t *testing.T, dir string, codes map[string]int) *httptest.Server {
	t.Helper()
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for suffix, code := range codes {
			if strings.HasSuffix(r.URL.Path, suffix) {
				w.WriteHeader(code)
				return
			}
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// An HTTP mirror answering 401 or 403, for its listing or its file, is an
// authorization failure as a registry's is: exit 4, one error line naming
// the URL and the status.
func TestHTTPMirrorUnauthorized(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		status := fmt.Sprintf("%d %s", code, http.StatusText(code))
		dir := t.TempDir()
		layer := rulesTarGz(t, "- rule: r\n  desc: version 1.0.0\n")
		if err := os.WriteFile(filepath.Join(dir, "my-rules-1.0.0.tar.gz.sha256"), []byte(sha256Hex(layer)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		srv := refusingServer(t, dir, map[string]int{"/SHA256SUMS": code, ".tar.gz": code})
		e := newEnv(t)
		addIndex(t, e, "acme", httpMirrorIndex(t, srv.URL, ""))
		oneLine(t, e.ferry("artifact", "install", "rules:1.x"), 4, "GET "+srv.URL+"/SHA256SUMS: "+status)
		oneLine(t, e.ferry("artifact", "install", "rules:1.0.0"), 4, "GET "+srv.URL+"/my-rules-1.0.0.tar.gz: "+status)
		if _, err := os.Stat(e.path("falco", "my_rules.yaml")); !os.IsNotExist(err) {
			t.Errorf("installed from a refusing mirror: %v", err)
		}
	}
}

// An artifact over --max-size from an HTTP mirror is refused as the same
// artifact from a registry is: exit 5, an unsafe archive, nothing
// installed.
func TestHTTPMirrorOverMaxSize(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishBigRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))
	oneLine(t, e.ferry("artifact", "install", "rules:1.0.0", "--max-size", "1000"), 5,
		"unpacking rules 1.0.0: unsafe archive entry ", "exceeds the remaining limit of 1000 bytes")

	// An HTTP mirror's file of 30 KiB, listed with its digest.
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for b.Len() < 30<<10 {
		fmt.Fprintf(&b, "# %016x%016x\n", rng.Uint64(), rng.Uint64())
	}
	layer := rulesTarGz(t, b.String())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "my-rules-1.0.0.tar.gz"), layer, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sha256Hex(layer)+"  my-rules-1.0.0.tar.gz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	m := newEnv(t)
	addIndex(t, m, "acme", httpMirrorIndex(t, srv.URL, ""))
	oneLine(t, m.ferry("artifact", "install", "rules:1.x", "--max-size", "1000"), 5,
		"unpacking rules 1.0.0 from "+srv.URL+"/my-rules-1.0.0.tar.gz: unsafe archive: ",
		fmt.Sprintf("size %d exceeds the limit of 1000 bytes", len(layer)))
	if _, err := os.Stat(m.path("falco", "my_rules.yaml")); !os.IsNotExist(err) {
		t.Errorf("installed over --max-size: %v", err)
	}
	// Within the limit it installs.
	m.ok("artifact", "install", "rules:1.x", "--max-size", "100000")
}
