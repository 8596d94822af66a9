package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

func TestBundleAirGapped(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishGraph(t, e, reg.Host)
	bundle := e.path("falco-bundle.tar")
	r := e.ok("artifact", "bundle", "acme/k8saudit-rules", "-O", bundle)
	if !strings.Contains(r.Stdout, "Bundled k8saudit 0.8.0") || !strings.Contains(r.Stdout, "Bundled k8saudit-rules 0.7.0") {
		t.Errorf("bundle: %s", r.Stdout)
	}

	// From here on the registry refuses everything, and must not be asked.
	reg.Reset()
	reg.SetFault(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	air := newEnv(t) // a fresh host: no indexes added, nothing cached
	r = air.ok("artifact", "install", "--from", bundle, "k8saudit-rules", "--platform", "linux/arm64")
	for _, want := range []string{"Installed bundle/k8saudit 0.8.0 (plugin)", "Installed bundle/k8saudit-rules 0.7.0 (rulesfile)"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("install --from lacks %q:\n%s", want, r.Stdout)
		}
	}
	if got := air.read("plugins", "libk8saudit.so"); got != "k8saudit 0.8.0 arm64" {
		t.Errorf("plugin from the bundle: %q", got)
	}
	if n := len(reg.Requests()); n != 0 {
		t.Errorf("an air-gapped install made %d registry requests", n)
	}
	// Every platform is in the bundle, and the source says where it came from.
	r = air.ok("artifact", "install", "--from", bundle, "k8saudit:0.8.0", "--platform", "linux/amd64", "--plugins-dir", air.path("amd64"), "-o", "json")
	if !strings.Contains(r.Stdout, `"source": "bundle:`+bundle+`"`) || air.read("amd64", "libk8saudit.so") != "k8saudit 0.8.0 amd64" {
		t.Errorf("second platform from the bundle: %s", r.Stdout)
	}
	oneLine(t, air.ferry("artifact", "install", "--from", bundle, "k8saudit:1.x"), 3, "1.x")
	oneLine(t, air.ferry("artifact", "install", "--from", e.path("nope.tar"), "k8saudit"), 3, "nope.tar")
}
