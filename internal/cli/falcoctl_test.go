package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/cli"
	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/internal/testutil"
)

// falcoctl runs the CLI in falcoctl mode, as the program name falcoctl
// selects it.
func falcoctl(t *testing.T, env map[string]string, args ...string) run {
	t.Helper()
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory("test")
	f.IO = cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	f.Getenv = func(k string) string { return env[k] }
	f.Falcoctl = true
	code := cli.Run(context.Background(), f, args)
	return run{out.String(), errOut.String(), code}
}

func TestFalcoctlModeIsTheProgramName(t *testing.T) {
	for name, want := range map[string]bool{"/usr/bin/falcoctl": true, "falcoctl": true, "./bin/falcoctl.exe": true, "/usr/bin/ferry": false, "falcoctl-old": false} {
		if got := cli.IsFalcoctl(name); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
}

func TestFalcoctlDefaults(t *testing.T) {
	env, _ := userEnv(t)
	delete(env, "FERRY_STATE_DIR")
	r := falcoctl(t, env, "config", "view", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	for _, want := range []string{`"file": "/etc/falcoctl/falcoctl.yaml"`, `"value": "/var/lib/falcoctl"`, `"key": "defaults.log-level",` + "\n" + `      "value": "info"`} {
		if !strings.Contains(r.out, want) {
			t.Errorf("falcoctl config view lacks %s:\n%s", want, r.out)
		}
	}
	// falcoctl's deprecated global flags are accepted, with a warning.
	if r := falcoctl(t, env, "--disable-styling", "--verbose", "version"); r.code != 0 || !strings.Contains(r.err, "deprecated") {
		t.Errorf("deprecated flags: exit %d: %s", r.code, r.err)
	}
	if r := ferry(t, env, "--disable-styling", "version"); r.code != 2 {
		t.Errorf("ferry mode took --disable-styling: exit %d", r.code)
	}
	// ferry's own mode is unchanged.
	if r := mustFerry(t, env, "config", "view", "-o", "json"); strings.Contains(r.out, "falcoctl") {
		t.Errorf("ferry mode shows falcoctl's defaults:\n%s", r.out)
	}
}

// falcoctlFixture publishes rules 1.0.0, 1.1.0 and 2.0.0 and writes a
// falcoctl config naming the index, with the environment pointing at it.
func falcoctlFixture(t *testing.T) (map[string]string, string, *testutil.Registry) {
	t.Helper()
	reg := testutil.NewRegistry(t)
	env, dir := userEnv(t)
	delete(env, "FERRY_STATE_DIR")
	src := writeFile(t, filepath.Join(dir, "src", "my_rules.yaml"), "- rule: r\n")
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		writeFile(t, src, "- rule: r\n  desc: "+v+"\n")
		mustFerry(t, env, "artifact", "push", reg.Host+"/acme/rules/my-rules", src, "--type", "rulesfile", "--version", v, "--add-floating-tags")
	}
	idx := writeFile(t, filepath.Join(dir, "index.yaml"), fmt.Sprintf("- name: falco-rules\n  type: rulesfile\n  registry: %s\n  repository: acme/rules/my-rules\n  description: d\n", reg.Host))
	cfg := writeFile(t, filepath.Join(dir, "etc", "falcoctl.yaml"), fmt.Sprintf(`indexes:
- name: falcosecurity
  url: %s
  backend: file
artifact:
  allowedTypes: [rulesfile]
  install:
    refs: [falco-rules:1]
    rulesfilesDir: %s
    stateDir: %s
`, idx, filepath.Join(dir, "rules"), filepath.Join(dir, "state")))
	env["FERRY_CONFIG"] = cfg
	return env, dir, reg
}

func TestFalcoctlInstallFromConfig(t *testing.T) {
	env, dir, _ := falcoctlFixture(t)
	// No REF: the config's refs, into the config's directories; a bare name
	// is the configured index's (it replaces the embedded one).
	r := falcoctl(t, env, "artifact", "install")
	if r.code != 0 {
		t.Fatalf("exit %d: %s%s", r.code, r.out, r.err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "rules", "my_rules.yaml")); !strings.Contains(string(data), "1.1.0") {
		t.Errorf("installed %q: %s", data, r.out)
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); err != nil {
		t.Errorf("state dir from artifact.install.stateDir: %v", err)
	}
	// FALCOCTL_<KEY> wins over the file; a flag over both.
	env["FALCOCTL_ARTIFACT_INSTALL_RULESFILESDIR"] = filepath.Join(dir, "env-rules")
	env["FALCOCTL_ARTIFACT_INSTALL_REFS"] = "falco-rules:2"
	if r := falcoctl(t, env, "artifact", "install"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "env-rules", "my_rules.yaml")); !strings.Contains(string(data), "2.0.0") {
		t.Errorf("env: installed %q", data)
	}
	if r := falcoctl(t, env, "artifact", "install", "--rulesfiles-dir", filepath.Join(dir, "flag-rules")); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	if _, err := os.Stat(filepath.Join(dir, "flag-rules", "my_rules.yaml")); err != nil {
		t.Errorf("flag: %v", err)
	}
	// artifact.allowedTypes applies.
	delete(env, "FALCOCTL_ARTIFACT_INSTALL_REFS")
	env["FALCOCTL_ARTIFACT_ALLOWEDTYPES"] = "plugin"
	if r := falcoctl(t, env, "artifact", "install"); r.code == 0 {
		t.Errorf("a rulesfile installed with allowed types plugin: %s", r.out)
	}
}

func TestInstallSameArtifactTwiceKeepsTheHighest(t *testing.T) {
	env, dir, _ := falcoctlFixture(t)
	for _, runner := range []func(*testing.T, map[string]string, ...string) run{ferry, falcoctl} {
		r := runner(t, env, "artifact", "install", "falcosecurity/falco-rules:2.0.0", "falcosecurity/falco-rules:1.0.0", "--rulesfiles-dir", filepath.Join(dir, "twice"))
		if r.code != 0 {
			t.Fatalf("exit %d: %s%s", r.code, r.out, r.err)
		}
		if !strings.Contains(r.err, "note: multiple versions of the same artifact: keeping falcosecurity/falco-rules:2.0.0 (2.0.0), discarding 1.0.0") {
			t.Errorf("no note: %s", r.err)
		}
		if data, _ := os.ReadFile(filepath.Join(dir, "twice", "my_rules.yaml")); !strings.Contains(string(data), "2.0.0") {
			t.Errorf("installed %q", data)
		}
	}
}

func TestFalcoctlListColumns(t *testing.T) {
	env, _, reg := falcoctlFixture(t)
	r := falcoctl(t, env, "artifact", "list")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != 0 || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "INDEX ARTIFACT TYPE REGISTRY REPOSITORY" ||
		strings.Join(strings.Fields(lines[1]), " ") != "falcosecurity falco-rules rulesfile "+reg.Host+" acme/rules/my-rules" {
		t.Errorf("exit %d:\n%s%s", r.code, r.out, r.err)
	}
	if r := mustFerry(t, env, "artifact", "list"); !strings.HasPrefix(r.out, "INDEX  ") || !strings.Contains(r.out, "DESCRIPTION") {
		t.Errorf("ferry's columns changed:\n%s", r.out)
	}
}

func TestLogFormatJSON(t *testing.T) {
	env, _ := userEnv(t)
	for _, args := range [][]string{
		{"artifact", "install", "nosuch", "--log-format=json"},
		{"--log-format", "json", "artifact", "install", "--no-such-flag"},
		{"artifact", "install", "--log-format=json", "--log-level", "loud"},
	} {
		r := falcoctl(t, env, args...)
		if r.code == 0 || r.err == "" {
			t.Fatalf("%v: exit %d", args, r.code)
		}
		for _, l := range strings.Split(strings.TrimSpace(r.err), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil || m["level"] == nil || m["msg"] == nil || m["timestamp"] == nil {
				t.Errorf("%v: not a JSON log line: %q", args, l)
			}
		}
		if !strings.Contains(r.err, `"level":"ERROR"`) {
			t.Errorf("%v: no ERROR line: %s", args, r.err)
		}
	}
}

func TestFalcoctlDriverEnvironment(t *testing.T) {
	env, dir := userEnv(t)
	writeFile(t, filepath.Join(dir, "host", "etc", "os-release"), "ID=debian\nVERSION_ID=\"12\"\n")
	env["FALCOCTL_DRIVER_REPOS"] = "http://a.example/driver,http://b.example/driver"
	env["FALCOCTL_DRIVER_NAME"] = "myfalco"
	env["FALCOCTL_DRIVER_TYPE"] = "kmod"
	env["FALCOCTL_DRIVER_VERSION"] = "8.0.0+driver"
	env["HOST_ROOT"] = filepath.Join(dir, "host")
	args := []string{"driver", "install", "--dry-run", "--kernelrelease", "6.1.0-10-amd64", "--kernelversion", "#1 SMP Debian 6.1.38-2"}
	r := falcoctl(t, env, args...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s%s", r.code, r.out, r.err)
	}
	for _, want := range []string{"myfalco kmod driver 8.0.0+driver", "http://a.example/driver/", "http://b.example/driver/", filepath.Join(dir, "host")} {
		if !strings.Contains(r.out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, r.out)
		}
	}
	// The same from the config file's driver section.
	cfg := writeFile(t, filepath.Join(dir, "falcoctl.yaml"), "driver:\n  type: [kmod]\n  name: fromfile\n  repos:\n  - http://c.example/driver\n  version: 8.0.0+driver\n  hostroot: "+filepath.Join(dir, "host")+"\n")
	for _, k := range []string{"FALCOCTL_DRIVER_REPOS", "FALCOCTL_DRIVER_NAME", "FALCOCTL_DRIVER_TYPE", "FALCOCTL_DRIVER_VERSION", "HOST_ROOT"} {
		delete(env, k)
	}
	r = falcoctl(t, env, append(args, "--config", cfg)...)
	// As falcoctl, install loads the module: the dry run says it would,
	// and warns that it is for another kernel than the running one.
	if !strings.Contains(r.out, "would run  insmod ") {
		t.Errorf("falcoctl mode does not load the module:\n%s", r.out)
	}
	stderr := strings.TrimSpace(r.err)
	if strings.Count(stderr, "\n") == 0 && strings.Contains(stderr, "--load: the module is for kernel 6.1.0-10-amd64") {
		stderr = ""
	}
	if r.code != 0 || !strings.Contains(r.out, "fromfile kmod driver") || !strings.Contains(r.out, "http://c.example/driver/") || stderr != "" {
		t.Errorf("from the config: exit %d:\n%s%s", r.code, r.out, r.err)
	}
	// ferry's own mode does not read FALCOCTL_*.
	env["FALCOCTL_DRIVER_NAME"] = "ignored"
	if r := ferry(t, env, append(args, "--config", cfg)...); strings.Contains(r.out, "ignored") {
		t.Errorf("ferry mode read FALCOCTL_DRIVER_NAME:\n%s", r.out)
	}
}

func TestLogFormatJSONResults(t *testing.T) {
	env, dir, _ := falcoctlFixture(t)
	r := falcoctl(t, env, "artifact", "install", "--log-format=json", "--rulesfiles-dir", filepath.Join(dir, "json"))
	if r.code != 0 {
		t.Fatalf("exit %d: %s%s", r.code, r.out, r.err)
	}
	var found bool
	for _, l := range strings.Split(strings.TrimSpace(r.out+r.err), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("not JSON: %q", l)
			continue
		}
		if m["msg"] == "Artifact successfully installed" && m["name"] == "falcosecurity/falco-rules" && m["version"] == "1.1.0" && m["directory"] == filepath.Join(dir, "json") {
			found = true
		}
	}
	if !found {
		t.Errorf("no result line:\n%s", r.out)
	}
}

func TestFalcoctlFollowWaitsForTheVersionsEndpoint(t *testing.T) {
	env, _, _ := falcoctlFixture(t)
	// falcoctl's default endpoint (localhost:8765) is replaced by a port
	// nothing listens on; --timeout bounds the wait, then follow fails.
	r := falcoctl(t, env, "artifact", "follow", "falco-rules:1", "--falco-versions", "http://127.0.0.1:1/versions", "--timeout", "1s", "--log-format=json")
	if r.code != 1 || !strings.Contains(r.err, "unable to retrieve the engine's versions from http://127.0.0.1:1/versions within --timeout 1s") {
		t.Errorf("exit %d: %s", r.code, r.err)
	}
	if r := falcoctl(t, env, "artifact", "follow", "falco-rules:1", "--startup-behavior", "later"); r.code != 2 || !strings.Contains(r.err, "skip, jitter or immediate") {
		t.Errorf("bad --startup-behavior: exit %d: %s", r.code, r.err)
	}
}

// As falcoctl, the command lines a hint suggests are falcoctl's, so a user
// can run them as written; ferry's own mode keeps ferry's.
func TestFalcoctlHintsNameFalcoctl(t *testing.T) {
	env, _ := userEnv(t)
	r := falcoctl(t, env, "artifact", "install", "nosuch")
	if r.code != 3 || !strings.Contains(r.err, "hint: run: falcoctl artifact search nosuch") || strings.Contains(r.err, "ferry artifact") {
		t.Errorf("exit %d:\n%s", r.code, r.err)
	}
	r = ferry(t, env, "artifact", "install", "nosuch")
	if r.code != 3 || !strings.Contains(r.err, "hint: run: ferry artifact search nosuch") {
		t.Errorf("ferry mode: exit %d:\n%s", r.code, r.err)
	}
}
