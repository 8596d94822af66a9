package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"oras.land/oras-go/v2"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/internal/testutil"
	"github.com/ferryhq/ferry/pkg/oci"
)

// mirrorCopy copies a tag by digest from one registry to another, as a
// mirror or pull-through cache holds it.
func mirrorCopy(t *testing.T, from, to oci.Location, tag string) {
	t.Helper()
	hc, _ := ferryhttp.New(ferryhttp.Options{})
	c := oci.NewClient(oci.ClientOptions{HTTP: hc, PlainHTTP: func(string) bool { return true }})
	src, _ := c.Repository(from)
	dst, _ := c.Repository(to)
	if _, err := oras.Copy(context.Background(), src, tag, dst, tag, oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
}

func TestMirrors(t *testing.T) {
	t.Parallel()
	primary := testutil.NewRegistry(t)
	mirror := startRegistry(t, "")
	e := newEnv(t)
	publishRules(t, e, primary.Host+"/acme/rules/my-rules", "1.0.0")
	mirrorCopy(t, oci.Location{Registry: primary.Host, Repository: "acme/rules/my-rules"}, oci.Location{Registry: mirror.Host, Repository: "cache/my-rules"}, "1.0.0")
	addIndex(t, e, "acme", fmt.Sprintf(`- name: rules
  type: rulesfile
  registry: %s
  repository: acme/rules/my-rules
  mirrors:
    - registry: %s
      repository: cache/my-rules
`, primary.Host, mirror.Host))

	// The primary is down: resolution and download use the mirror, and the
	// result says so.
	primary.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	r := e.ok("artifact", "install", "rules:1.x", "-o", "json")
	if !strings.Contains(r.Stdout, `"source": "oci://`+mirror.Host+`/cache/my-rules"`) {
		t.Errorf("not served by the mirror: %s", r.Stdout)
	}
	if got := e.read("falco", "my_rules.yaml"); !strings.Contains(got, "version 1.0.0") {
		t.Errorf("installed %q", got)
	}
	primary.SetFault(nil)

	// A host mirror from the config is tried before the primary.
	mirrorCopy(t, oci.Location{Registry: primary.Host, Repository: "acme/rules/my-rules"}, oci.Location{Registry: mirror.Host, Repository: "acme/rules/my-rules"}, "1.0.0")
	cfg := e.write("ferry.yaml", fmt.Sprintf("registries:\n  - host: %s\n    mirrors: [%s]\n", primary.Host, mirror.Host))
	e.vars = append(e.vars, "FERRY_CONFIG="+cfg, "FERRY_STATE_DIR="+e.path("state2"), "FERRY_RULESFILES_DIR="+e.path("falco2"))
	e.ok("index", "add", "acme", e.path("acme.yaml"))
	primary.Reset()
	r = e.ok("artifact", "install", "rules:1.x", "-o", "json")
	if !strings.Contains(r.Stdout, `"source": "oci://`+mirror.Host+`/acme/rules/my-rules"`) || len(primary.Requests()) != 0 {
		t.Errorf("host mirror not used first (%d requests to the primary): %s", len(primary.Requests()), r.Stdout)
	}
}
