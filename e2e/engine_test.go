package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEngineVersionsFromURLAndConfig(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "")
	e := newEnv(t)
	publishGraph(t, e, reg.Host)
	// Falco's /versions endpoint, as the engine answers it.
	falco := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"engine_version":"31","engine_version_semver":"0.31.0","falco_version":"0.37.1","plugin_api_version":"2.0.0","default_driver_version":"7.0.0+driver"}`)
	}))
	defer falco.Close()
	oneLine(t, e.ferry("artifact", "install", "acme/k8saudit-rules", "--engine-versions-url", falco.URL+"/versions"), 5,
		"requires plugin_api_version 3.0.0; the engine has 2.0.0")

	// The config declares a newer engine; a flag still wins over it.
	cfg := e.write("ferry.yaml", "engine:\n  versions:\n    engine_version_semver: 0.41.0\n    plugin_api_version: 3.7.0\n")
	e.vars = append(e.vars, "FERRY_CONFIG="+cfg)
	e.ok("index", "add", "acme", e.path("acme.yaml"))
	oneLine(t, e.ferry("artifact", "install", "acme/k8saudit-rules", "--engine-version", "engine_version_semver=0.30.0"), 5,
		"k8saudit-rules 0.7.0 requires engine_version_semver 0.31.0; the engine has 0.30.0")
	r := e.ok("artifact", "install", "acme/k8saudit-rules")
	if !strings.Contains(r.Stdout, "Installed acme/k8saudit 0.8.0") || strings.Contains(r.Stderr, "not checked") {
		t.Errorf("install with the config's engine versions:\n%s\n%s", r.Stdout, r.Stderr)
	}
}
