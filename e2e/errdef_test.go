package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
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
