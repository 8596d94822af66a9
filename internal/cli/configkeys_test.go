package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

func TestConfigUnknownKeysWarn(t *testing.T) {
	env, dir := userEnv(t)
	cfg := writeFile(t, filepath.Join(dir, "c.yaml"), "defaults:\n  output: json\nregistires:\n  - host: x\nevents:\n  tiemout: 3s\n")
	r := ferry(t, env, "--config", cfg, "version")
	if r.code != 0 || !strings.HasPrefix(r.out, "{") {
		t.Fatalf("exit %d: %s%s", r.code, r.out, r.err)
	}
	if !strings.Contains(r.err, "warning: config "+cfg+": unknown keys ignored: registires, events.tiemout") {
		t.Errorf("no warning naming the unknown keys: %q", r.err)
	}
	cfg = writeFile(t, filepath.Join(dir, "e.yaml"), "defaults:\n  output: json\n  rulesfile-dir: /x\n")
	if r := ferry(t, env, "--config", cfg, "version"); !strings.Contains(r.err, "warning: config "+cfg+": no flag for defaults.rulesfile-dir (ignored)") {
		t.Errorf("no warning for a default of no flag: %q", r.err)
	}
	// With the log format from the config, the warning is a JSON line too.
	cfg = writeFile(t, filepath.Join(dir, "j.yaml"), "defaults:\n  log-format: json\nnope: 1\n")
	if r := ferry(t, env, "--config", cfg, "version"); !strings.HasPrefix(r.err, `{`) || !strings.Contains(r.err, `"level":"WARN"`) || !strings.Contains(r.err, "unknown keys ignored: nope") {
		t.Errorf("warning with log-format json from the config: %q", r.err)
	}
	// Keys are matched case-insensitively, as falcoctl's viper does.
	cfg = writeFile(t, filepath.Join(dir, "d.yaml"), "Defaults:\n  output: json\nartifact:\n  follow:\n    falcoVersions: http://x\n  install:\n    RulesFilesDir: /r\n")
	r = ferry(t, env, "--config", cfg, "version")
	if r.code != 0 || r.err != "" || !strings.HasPrefix(r.out, "{") {
		t.Errorf("case-insensitive keys: exit %d: %s%s", r.code, r.out, r.err)
	}
}

func TestConfigFlagNamesAMissingFile(t *testing.T) {
	env, dir := userEnv(t)
	missing := filepath.Join(dir, "nosuch.yaml")
	expectError(t, ferry(t, env, "--config", missing, "artifact", "list"), 3, "--config "+missing+": no such file")
	// Commands that write the config create it.
	mustFerry(t, env, "--config", missing, "config", "set", "defaults.output", "json")
	if _, err := os.Stat(missing); err != nil {
		t.Fatal(err)
	}
	if r := mustFerry(t, env, "--config", missing, "version"); !strings.HasPrefix(r.out, "{") {
		t.Errorf("config written then read: %s", r.out)
	}
}

func TestConfigSecrets(t *testing.T) {
	env, dir := userEnv(t)
	path := filepath.Join(dir, "config", "ferry", "config.yaml")
	r := ferry(t, env, "config", "set", "defaults.password", "hunter2")
	expectError(t, r, 2, "defaults.password is a secret", "hint: run: ferry registry login")
	if strings.Contains(r.out+r.err, "hunter2") {
		t.Errorf("secret echoed: %s%s", r.out, r.err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("refused secret wrote the config: %v", err)
	}
	expectError(t, ferry(t, env, "config", "set", "registry.auth.basic[0].password", "x"), 2)

	// A file holding credentials is rewritten 0600; one without stays 0644.
	mustFerry(t, env, "config", "set", "defaults.output", "text")
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("plain config: %v", st.Mode())
	}
	writeFile(t, path, "events:\n  sinks:\n    - url: http://127.0.0.1:1/e\n      headers: {Authorization: Bearer abc}\n")
	_ = os.Chmod(path, 0o644)
	mustFerry(t, env, "config", "set", "events.timeout", "5s")
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("config with sink headers: %v, want 0600", st.Mode())
	}
	r = mustFerry(t, env, "config", "view")
	if strings.Contains(r.out, "Bearer abc") {
		t.Errorf("config view shows a header value: %s", r.out)
	}
}

func TestPlainHTTPFlagOverridesHost(t *testing.T) {
	reg := testutil.NewRegistry(t)
	env, dir := userEnv(t)
	delete(env, "FERRY_PLAIN_HTTP")
	cfg := writeFile(t, filepath.Join(dir, "c.yaml"), "registries:\n  - host: "+reg.Host+"\n    plainHTTP: true\n")
	ref := reg.Host + "/acme/rules/none:1.0.0"
	// The host's plainHTTP applies: the registry answers (not found).
	expectError(t, ferry(t, env, "--config", cfg, "artifact", "info", ref), 3)
	// --plain-http=false on the command line wins: HTTPS to a plain registry.
	expectError(t, ferry(t, env, "--config", cfg, "artifact", "info", ref, "--plain-http=false"), 1, "hint: the registry speaks plain HTTP")
}

func TestCredentialsFileFromConfig(t *testing.T) {
	reg := testutil.NewRegistry(t)
	env, dir := userEnv(t)
	env["DOCKER_CONFIG"] = filepath.Join(dir, "docker")
	creds := filepath.Join(dir, "falcoctl", "config.json")
	cfg := writeFile(t, filepath.Join(dir, "falcoctl.yaml"), "registry:\n  creds:\n    config: "+creds+"\n")
	mustFerry(t, env, "--config", cfg, "registry", "login", reg.Host, "-u", "alice", "-p", "pw")
	data, err := os.ReadFile(creds)
	if err != nil || !strings.Contains(string(data), reg.Host) {
		t.Errorf("registry.creds.config not used: %s %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "docker", "config.json")); !os.IsNotExist(err) {
		t.Errorf("the docker config was written too: %v", err)
	}
}
