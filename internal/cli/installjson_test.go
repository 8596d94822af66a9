package cli_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// artifact install -o json prints the results as a JSON list; a failure
// that installed nothing prints nothing on stdout, only the error on
// stderr (it printed [] before, which reads as "nothing to do").
func TestInstallJSONOnFailurePrintsNothing(t *testing.T) {
	reg := testutil.NewRegistry(t)
	env, dir := userEnv(t)
	publishedIndex(t, env, dir, reg, "1.0.0")
	rules := filepath.Join(dir, "rules")

	r := ferry(t, env, "artifact", "install", "rules:9.x", "--rulesfiles-dir", rules, "-o", "json")
	if r.code != 3 || r.out != "" {
		t.Errorf("no such version: exit %d, stdout %q, want 3 and nothing", r.code, r.out)
	}
	expectError(t, r, 3, "rules:9.x")

	r = mustFerry(t, env, "artifact", "install", "rules:1.x", "--rulesfiles-dir", rules, "-o", "json")
	var got []map[string]any
	if err := json.Unmarshal([]byte(r.out), &got); err != nil || len(got) != 1 || got[0]["name"] != "rules" || got[0]["status"] != "installed" {
		t.Errorf("install: %v: %s", err, r.out)
	}
	// Nothing to do is not a failure: the up-to-date result is printed.
	r = mustFerry(t, env, "artifact", "install", "rules:1.x", "--rulesfiles-dir", rules, "-o", "json")
	if err := json.Unmarshal([]byte(r.out), &got); err != nil || len(got) != 1 || got[0]["status"] != "up to date" {
		t.Errorf("again: %v: %s", err, r.out)
	}
}
