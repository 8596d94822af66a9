package e2e

import (
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// A registry's caFile that does not exist breaks only the commands that
// contact that registry, with one error line naming the file.
func TestMissingHostCAFile(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	repo := reg.Host + "/acme/rules/my-rules"
	publishRules(t, e, repo, "1.0.0")
	missing := e.path("no-such-ca.pem")
	cfg := e.write("ferry.yaml", "registries:\n  - host: elsewhere.example:5000\n    caFile: "+missing+"\n")
	e.vars = append(e.vars, "FERRY_CONFIG="+cfg)
	e.ok("artifact", "install", repo+":1.0.0")
	oneLine(t, e.ferry("artifact", "info", "elsewhere.example:5000/acme/rules/my-rules:1.0.0"), 1, missing, "elsewhere.example:5000")
}
