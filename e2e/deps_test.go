package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// publishGraph pushes k8saudit plugins (two platforms each) and rules that
// depend on them, and adds an index naming both.
func publishGraph(t *testing.T, e *env, host string) {
	t.Helper()
	for _, v := range []string{"0.6.0", "0.7.0", "0.8.0", "1.0.0"} {
		amd := e.write("src/amd64/libk8saudit.so", "k8saudit "+v+" amd64")
		arm := e.write("src/arm64/libk8saudit.so", "k8saudit "+v+" arm64")
		e.ok("artifact", "push", host+"/acme/plugins/plugin/k8saudit", amd, arm, "--type", "plugin", "--version", v,
			"--platform", "linux/amd64", "--platform", "linux/arm64", "--requires", "plugin_api_version:3.0.0")
	}
	rules := e.write("src/k8saudit_rules.yaml", "- required_plugin_versions:\n  - name: k8saudit\n    version: 0.7.0\n- rule: r\n")
	e.ok("artifact", "push", host+"/acme/plugins/ruleset/k8saudit-rules", rules, "--type", "rulesfile", "--version", "0.7.0",
		"--requires", "engine_version_semver:0.31.0")
	addIndex(t, e, "acme", fmt.Sprintf(`- name: k8saudit
  type: plugin
  registry: %[1]s
  repository: acme/plugins/plugin/k8saudit
- name: k8saudit-rules
  type: rulesfile
  registry: %[1]s
  repository: acme/plugins/ruleset/k8saudit-rules
`, host))
}

func TestDependencies(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "")
	e := newEnv(t)
	publishGraph(t, e, reg.Host)

	// The plan, without touching the disk.
	r := e.ok("artifact", "install", "acme/k8saudit-rules", "--dry-run", "--platform", "linux/arm64")
	for _, want := range []string{"Would install acme/k8saudit 0.8.0 (plugin)", "because k8saudit-rules 0.7.0 requires k8saudit >=0.7.0 <1", "Would install acme/k8saudit-rules 0.7.0"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("dry run lacks %q:\n%s", want, r.Stdout)
		}
	}
	if !strings.Contains(r.Stderr, "requirements not checked") {
		t.Errorf("unchecked requirements not reported: %q", r.Stderr)
	}
	if _, err := os.Stat(e.path("plugins")); !os.IsNotExist(err) {
		t.Errorf("dry run wrote to disk")
	}

	// A requirement the engine does not meet: exit 5, nothing installed.
	oneLine(t, e.ferry("artifact", "install", "acme/k8saudit-rules", "--engine-version", "plugin_api_version=2.0.0", "--engine-version", "engine_version_semver=0.41.0"),
		5, "k8saudit 0.8.0 requires plugin_api_version 3.0.0; the engine has 2.0.0")
	// Asking below what the rules need: exit 3 with the chain.
	oneLine(t, e.ferry("artifact", "install", "acme/k8saudit-rules", "acme/k8saudit:0.6.x"), 3,
		"k8saudit-rules 0.7.0 requires k8saudit >=0.7.0 <1", "you asked for acme/k8saudit:0.6.x")
	if _, err := os.Stat(e.path("plugins")); !os.IsNotExist(err) {
		t.Errorf("a failed resolution wrote to disk")
	}

	r = e.ok("artifact", "install", "acme/k8saudit-rules", "--platform", "linux/arm64", "-o", "json",
		"--engine-version", "plugin_api_version=3.7.0", "--engine-version", "engine_version_semver=0.41.0")
	var results []struct {
		Name, Version, Status, Platform string
		Requested                       bool
	}
	if err := json.Unmarshal([]byte(r.Stdout), &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Name != "k8saudit" || results[0].Version != "0.8.0" || results[0].Requested ||
		results[0].Platform != "linux/arm64" || results[1].Name != "k8saudit-rules" || !results[1].Requested {
		t.Errorf("results: %+v", results)
	}
	if got := e.read("plugins", "libk8saudit.so"); got != "k8saudit 0.8.0 arm64" {
		t.Errorf("plugin on disk: %q", got)
	}

	// The lock file lists both, sorted, with the dependency edge.
	lock := e.read("state", "ferry.lock")
	for _, want := range []string{"name: k8saudit\n", "name: k8saudit-rules\n", "dependsOn:\n      - k8saudit\n", "platform: linux/arm64", "manifestDigest: sha256:"} {
		if !strings.Contains(lock, want) {
			t.Errorf("lock lacks %q:\n%s", want, lock)
		}
	}
	if strings.Index(lock, "name: k8saudit\n") > strings.Index(lock, "name: k8saudit-rules\n") {
		t.Errorf("lock not sorted:\n%s", lock)
	}

	// An installed newer major is never downgraded silently.
	e2 := newEnv(t)
	e2.vars = append(e2.vars, "XDG_CONFIG_HOME="+e.path("config"), "XDG_CACHE_HOME="+e.path("cache"))
	e2.ok("artifact", "install", "acme/k8saudit:1.0.0")
	oneLine(t, e2.ferry("artifact", "install", "acme/k8saudit-rules"), 3, "k8saudit 1.0.0 is installed (never downgraded)")
	// Without dependency resolution only the rules are installed.
	r = e2.ok("artifact", "install", "acme/k8saudit-rules", "--resolve-deps=false")
	if strings.Contains(r.Stdout, "Installed acme/k8saudit ") || !strings.Contains(r.Stdout, "k8saudit-rules 0.7.0") {
		t.Errorf("--resolve-deps=false: %s", r.Stdout)
	}

	// info shows the tree.
	r = e.ok("artifact", "info", "acme/k8saudit-rules")
	if !strings.Contains(r.Stdout, "Installs (dependencies first):") || !strings.Contains(r.Stdout, "k8saudit 0.8.0") {
		t.Errorf("info tree:\n%s", r.Stdout)
	}
}

func TestLockedInstall(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "")
	e := newEnv(t)
	publishGraph(t, e, reg.Host)
	lockPath := e.path("project", "ferry.lock")

	// lock resolves and writes, installing nothing.
	r := e.ok("artifact", "lock", "acme/k8saudit-rules:0.x", "--lock-file", lockPath, "--platform", "linux/amd64")
	if !strings.Contains(r.Stdout, "Locked k8saudit 0.8.0") {
		t.Errorf("lock: %s", r.Stdout)
	}
	if _, err := os.Stat(e.path("plugins")); !os.IsNotExist(err) {
		t.Errorf("lock installed something")
	}
	first := e.read("project", "ferry.lock")
	e.ok("artifact", "lock", "acme/k8saudit-rules:0.x", "--lock-file", lockPath, "--platform", "linux/amd64")
	if again := e.read("project", "ferry.lock"); again != first {
		t.Errorf("lock is not deterministic:\n%s\n---\n%s", first, again)
	}

	// The tag 0.8.0 moves to different content; --locked still installs
	// the locked digest, resolving no tag.
	moved := e.write("src/moved/libk8saudit.so", "MOVED")
	e.ok("artifact", "push", reg.Host+"/acme/plugins/plugin/k8saudit", moved, "--type", "plugin", "--version", "0.8.0", "--platform", "linux/amd64")
	e.ok("artifact", "install", "--locked", "--lock-file", lockPath, "--platform", "linux/amd64")
	if got := e.read("plugins", "libk8saudit.so"); got != "k8saudit 0.8.0 amd64" {
		t.Errorf("--locked installed %q, want the locked content", got)
	}
	// A reference the lock does not cover fails.
	oneLine(t, e.ferry("artifact", "install", "acme/k8saudit:1.x", "--locked", "--lock-file", lockPath), 3, "not in the lock file")
	// Without --locked the moved tag is what resolution finds.
	e.ok("artifact", "install", "acme/k8saudit:0.8.0", "--platform", "linux/amd64")
	if got := e.read("plugins", "libk8saudit.so"); got != "MOVED" {
		t.Errorf("unlocked install: %q", got)
	}
}
