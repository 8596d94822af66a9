package e2e

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// An engine version that is not a version is a usage error where the user
// types it, not a failed requirement (exit 5) once the registry was asked.
func TestEngineVersionMustBeAVersion(t *testing.T) {
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))

	oneLine(t, e.ferry("artifact", "install", "rules:1.0.0", "--engine-version", "engine_version_semver=bogus"), 2, "bogus", "--engine-version")
	oneLine(t, e.ferry("config", "set", "engine.versions.engine_version_semver", "notaversion"), 2, "notaversion")
	if cfg := e.read("config", "ferry", "config.yaml"); strings.Contains(cfg, "notaversion") {
		t.Errorf("config set wrote a value it refused:\n%s", cfg)
	}
	// Falco's /versions has integer versions too (engine_version: "31").
	e.ok("artifact", "install", "rules:1.0.0", "--engine-version", "engine_version=31", "--engine-version", "plugin_api_version=3.7.0")
	e.ok("config", "set", "engine.versions.engine_version_semver", "0.41.0")
}
