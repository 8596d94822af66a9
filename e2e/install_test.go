package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// publishRules pushes a rules file at each version, with floating tags.
func publishRules(t *testing.T, e *env, repo string, versions ...string) {
	t.Helper()
	for _, v := range versions {
		src := e.write("src/my_rules.yaml", "- rule: r\n  desc: version "+v+"\n")
		e.ok("artifact", "push", repo, src, "--type", "rulesfile", "--version", v, "--add-floating-tags")
	}
}

func addIndex(t *testing.T, e *env, name, yaml string) {
	t.Helper()
	e.ok("index", "add", name, e.write(name+".yaml", yaml))
}

func rulesIndex(host string) string {
	return fmt.Sprintf(`- name: rules
  type: rulesfile
  registry: %s
  repository: acme/rules/my-rules
  source: https://github.com/acme/rules
  description: Rules for tests
  keywords: [audit]
- name: plug
  type: plugin
  registry: %s
  repository: acme/plugins/plugin/plug
`, host, host)
}

func TestInstallSemverRange(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "")
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0", "1.1.0", "1.2.0-rc.1", "2.0.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))

	r := e.ok("artifact", "install", "rules:1.x")
	for _, want := range []string{"Installed acme/rules 1.1.0 (rulesfile)", "because you asked for rules:1.x", "sha256:", e.path("falco", "my_rules.yaml")} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.Stdout)
		}
	}
	if r.Stderr != "" {
		t.Errorf("stderr not empty: %s", r.Stderr)
	}
	if got := e.read("falco", "my_rules.yaml"); !strings.Contains(got, "version 1.1.0") {
		t.Errorf("installed file holds %q", got)
	}
	var state struct {
		Artifacts []struct{ Key, Version, Digest, Ref string }
	}
	if err := json.Unmarshal([]byte(e.read("state", "state.json")), &state); err != nil {
		t.Fatal(err)
	}
	if len(state.Artifacts) != 1 || state.Artifacts[0].Version != "1.1.0" || state.Artifacts[0].Ref != "rules:1.x" ||
		state.Artifacts[0].Key != reg.Host+"/acme/rules/my-rules" || !strings.HasPrefix(state.Artifacts[0].Digest, "sha256:") {
		t.Errorf("state: %+v", state)
	}

	// Pre-releases only when the constraint names one; exact versions too.
	for _, c := range []struct{ ref, want string }{
		{"rules:>=1.2.0-rc.0 <2", "version 1.2.0-rc.1"},
		{"acme/rules:1.0.0", "version 1.0.0"},
		{"rules", "version 2.0.0"},
		{"rules:latest", "version 2.0.0"},
		{"rules:~1.1", "version 1.1.0"},
	} {
		e.ok("artifact", "install", c.ref)
		if got := e.read("falco", "my_rules.yaml"); !strings.Contains(got, c.want) {
			t.Errorf("%s installed %q, want %s", c.ref, got, c.want)
		}
	}

	// JSON output is one array of stable results.
	r = e.ok("artifact", "install", "rules:1.0.x", "-o", "json")
	var results []map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &results); err != nil {
		t.Fatalf("json: %v\n%s", err, r.Stdout)
	}
	if len(results) != 1 || results[0]["version"] != "1.0.0" || results[0]["status"] != "installed" || results[0]["previousVersion"] != "1.1.0" {
		t.Errorf("json results: %v", results)
	}
}

func TestListSearchInfo(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "")
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "0.9.0", "1.0.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))

	r := e.ok("artifact", "list", "--index", "acme")
	if !strings.Contains(r.Stdout, "rules") || !strings.Contains(r.Stdout, "plug") || strings.Contains(r.Stdout, "falco-rules") {
		t.Errorf("list --index acme:\n%s", r.Stdout)
	}
	r = e.ok("artifact", "list", "--type", "rulesfile", "-o", "json")
	var entries []map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &entries); err != nil {
		t.Fatal(err)
	}
	sawDefault := false
	for _, en := range entries {
		if en["type"] != "rulesfile" {
			t.Errorf("list --type rulesfile returned %v", en)
		}
		sawDefault = sawDefault || (en["index"] == "default" && en["name"] == "falco-rules")
	}
	if !sawDefault {
		t.Errorf("the embedded index's falco-rules is not listed: %s", r.Stdout)
	}
	r = e.ok("artifact", "search", "audit")
	if !strings.Contains(r.Stdout, "acme") {
		t.Errorf("search audit:\n%s", r.Stdout)
	}
	r = e.ok("artifact", "info", "rules:<1", "-o", "json")
	var info []map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &info); err != nil {
		t.Fatal(err)
	}
	if info[0]["version"] != "0.9.0" || info[0]["type"] != "rulesfile" || !strings.HasPrefix(info[0]["digest"].(string), "sha256:") {
		t.Errorf("info: %v", info)
	}
	if v := fmt.Sprint(info[0]["versions"]); v != "[1.0.0 0.9.0]" {
		t.Errorf("info versions %s", v)
	}
}

func TestIndexCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	yaml := "- name: one\n  type: rulesfile\n  registry: example.com\n  repository: a/b/one\n"
	p := e.write("idx.yaml", yaml)
	if r := e.ok("index", "add", "local", "file://"+p); !strings.Contains(r.Stdout, `"local" (1 artifact) from`) {
		t.Errorf("add: %s", r.Stdout)
	}
	r := e.ok("index", "list", "-o", "json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0]["name"] != "local" || list[1]["name"] != "default" {
		t.Errorf("index list: %v", list)
	}
	// A second add of the same name is refused; update refetches.
	if r := e.ferry("index", "add", "local", p); r.Code != 2 {
		t.Errorf("duplicate add: exit %d, %s", r.Code, r.Stderr)
	}
	e.write("idx.yaml", yaml+"- name: two\n  type: plugin\n  registry: example.com\n  repository: a/b/two\n")
	if r := e.ok("index", "update"); !strings.Contains(r.Stdout, `"local" (2 artifacts)`) {
		t.Errorf("update: %s", r.Stdout)
	}
	// The embedded default can be shadowed, not removed.
	if r := e.ferry("index", "remove", "default"); r.Code != 2 || !strings.Contains(r.Stderr, "shadow") {
		t.Errorf("remove default: exit %d, %s", r.Code, r.Stderr)
	}
	e.ok("index", "add", "default", p)
	r = e.ok("artifact", "list", "-o", "json")
	if strings.Contains(r.Stdout, "falco-rules") || !strings.Contains(r.Stdout, `"two"`) {
		t.Errorf("shadowed default still listed: %s", r.Stdout)
	}
	e.ok("index", "remove", "default", "local")
	if _, err := os.Stat(filepath.Join(e.Home, "cache", "ferry", "indexes", "local.yaml")); !os.IsNotExist(err) {
		t.Errorf("cache of a removed index left behind: %v", err)
	}
	if r := e.ok("artifact", "list"); !strings.Contains(r.Stdout, "falco-rules") {
		t.Errorf("default not back after removing its shadow: %s", r.Stdout)
	}
}

func TestPushReadsRulesRequirements(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "")
	e := newEnv(t)
	repo := reg.Host + "/acme/rules/my-rules"
	src := e.write("src/k8s_rules.yaml", `- required_engine_version: 0.31.0
- required_plugin_versions:
  - name: k8saudit
    version: 0.7.0
    alternatives:
      - name: k8saudit-eks
        version: 0.4.0
- rule: r
  condition: ka.verb = create
`)
	e.ok("artifact", "push", repo, src, "--type", "rulesfile", "--version", "1.0.0", "--requires", "engine_version_semver:0.35.0")
	r := e.ok("artifact", "info", repo+":1.0.0", "-o", "json")
	var info []struct {
		Dependencies []struct {
			Name, Version string
			Alternatives  []struct{ Name, Version string }
		}
		Requirements []struct{ Name, Version string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &info); err != nil {
		t.Fatal(err)
	}
	deps, reqs := info[0].Dependencies, info[0].Requirements
	if len(deps) != 1 || deps[0].Name != "k8saudit" || deps[0].Version != "0.7.0" || len(deps[0].Alternatives) != 1 || deps[0].Alternatives[0].Name != "k8saudit-eks" {
		t.Errorf("dependencies: %+v", deps)
	}
	// The flag wins over the file for the same requirement.
	if len(reqs) != 1 || reqs[0].Name != "engine_version_semver" || reqs[0].Version != "0.35.0" {
		t.Errorf("requirements: %+v", reqs)
	}
}
