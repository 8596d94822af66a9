package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func viewConfig(t *testing.T, env map[string]string, args ...string) map[string][2]string {
	t.Helper()
	r := mustFerry(t, env, append([]string{"config", "view", "-o", "json"}, args...)...)
	var v struct {
		File       string
		FileSource string
		Values     []struct{ Key, Value, Source string }
	}
	if err := json.Unmarshal([]byte(r.out), &v); err != nil {
		t.Fatalf("%v: %s", err, r.out)
	}
	out := map[string][2]string{"file": {v.File, v.FileSource}}
	for _, kv := range v.Values {
		out[kv.Key] = [2]string{kv.Value, kv.Source}
	}
	return out
}

func TestConfigSetView(t *testing.T) {
	env, dir := userEnv(t)
	delete(env, "FERRY_PLAIN_HTTP")
	delete(env, "FERRY_STATE_DIR")
	path := filepath.Join(dir, "config", "ferry", "config.yaml")
	file := "config " + path

	got := viewConfig(t, env)
	for key, want := range map[string][2]string{
		"file":                              {path, "default"},
		"indexes.default":                   {"embedded", "default"},
		"defaults.rulesfiles-dir":           {"/etc/falco", "default"},
		"defaults.plain-http":               {"false", "default"},
		"defaults.allowed-types":            {"", "default"},
		"defaults.state-dir":                {"/var/lib/ferry", "default"},
		"defaults.events-timeout":           {"3s", "default"},
		"defaults.events-spec":              {"0.5", "default"},
		"defaults.type":                     {"(per command)", "default"},
		"defaults.concurrency":              {"4", "default"},
		"defaults.output":                   {"text", "default"},
		"defaults.insecure-skip-tls-verify": {"false", "default"},
	} {
		if got[key] != want {
			t.Errorf("%s: got %v, want %v", key, got[key], want)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("config view created the file: %v", err)
	}

	mustFerry(t, env, "index", "add", "local", writeFile(t, filepath.Join(dir, "local.yaml"), "- name: x\n  type: rulesfile\n  registry: r.io\n  repository: a/x\n"))
	for _, kv := range [][2]string{
		{"defaults.rulesfiles-dir", "/srv/rules"},
		{"defaults.plain-http", "true"},
		{"engine.versions.engine_version_semver", "0.41.0"},
		{"registries.registry.internal:5000.caFile", "/etc/ssl/ca.pem"},
		{"registries.registry.internal:5000.mirrors", "a.internal,b.internal"},
		{"events.timeout", "5s"},
	} {
		r := mustFerry(t, env, "config", "set", kv[0], kv[1])
		if !strings.Contains(r.out, kv[0]) {
			t.Errorf("set %s: %q", kv[0], r.out)
		}
	}

	env["FERRY_STATE_DIR"] = "/tmp/from-env"
	got = viewConfig(t, env, "--plain-http=false")
	for key, want := range map[string][2]string{
		"defaults.rulesfiles-dir":                   {"/srv/rules", file},
		"defaults.plain-http":                       {"false", "flag --plain-http"},
		"defaults.state-dir":                        {"/tmp/from-env", "env FERRY_STATE_DIR"},
		"engine.versions.engine_version_semver":     {"0.41.0", file},
		"registries.registry.internal:5000.caFile":  {"/etc/ssl/ca.pem", file},
		"registries.registry.internal:5000.mirrors": {"a.internal,b.internal", file},
		"events.timeout":                            {"5s", file},
		"indexes.local":                             {filepath.Join(dir, "local.yaml"), file},
		"indexes.default":                           {"embedded", "default"},
	} {
		if got[key] != want {
			t.Errorf("%s: got %v, want %v", key, got[key], want)
		}
	}
	if got := viewConfig(t, env); got["defaults.plain-http"] != [2]string{"true", file} {
		t.Errorf("plain-http without the flag: %v", got["defaults.plain-http"])
	}
	// The value set is the value commands use.
	mustFerry(t, env, "config", "set", "defaults.output", "json")
	if r := mustFerry(t, env, "version"); !strings.HasPrefix(r.out, "{") {
		t.Errorf("version after config set defaults.output json: %s", r.out)
	}
	mustFerry(t, env, "config", "unset", "defaults.output")

	mustFerry(t, env, "config", "unset", "defaults.rulesfiles-dir")
	mustFerry(t, env, "config", "unset", "registries.registry.internal:5000.caFile")
	mustFerry(t, env, "config", "unset", "registries.registry.internal:5000.mirrors")
	got = viewConfig(t, env)
	if got["defaults.rulesfiles-dir"] != [2]string{"/etc/falco", "default"} {
		t.Errorf("after unset: %v", got["defaults.rulesfiles-dir"])
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "registry.internal") || strings.Contains(string(data), "rulesfiles-dir") {
		t.Errorf("unset keys left in the file:\n%s", data)
	}
	if !strings.Contains(string(data), "engine_version_semver: 0.41.0") {
		t.Errorf("other keys lost:\n%s", data)
	}

	r := mustFerry(t, env, "config", "view", "-o", "yaml")
	if !strings.Contains(r.out, "key: defaults.plain-http") {
		t.Errorf("yaml view: %s", r.out)
	}
}

func TestConfigSetRefuses(t *testing.T) {
	env, dir := userEnv(t)
	path := filepath.Join(dir, "config", "ferry", "config.yaml")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"config", "set", "nosuch.key", "1"}, []string{"nosuch.key", "hint: keys: defaults.FLAG"}},
		{[]string{"config", "set", "defaults.no-such-flag", "1"}, []string{"no flag named --no-such-flag", "hint:"}},
		{[]string{"config", "set", "defaults.plain-http", "maybe"}, []string{"not a valid --plain-http"}},
		{[]string{"config", "set", "defaults.concurrency", "many"}, []string{"--concurrency"}},
		{[]string{"config", "set", "events.spec", "0.9"}, []string{"0.5 or 0.4"}},
		{[]string{"config", "set", "events.timeout", "--", "-1s"}, []string{"positive duration"}},
		{[]string{"config", "set", "registries.h.io.plainHTTP", "yes please"}, []string{"true or false"}},
		{[]string{"config", "set", "registries.h.io.color", "red"}, []string{`no field "color"`}},
		{[]string{"config", "set", "indexes.mine", "https://x"}, []string{"hint: run: ferry index add"}},
		{[]string{"config", "set", "defaults.state-dir"}, []string{"2 arg"}},
		{[]string{"config", "view", "-o", "toml"}, []string{"text, json or yaml"}},
	} {
		r := ferry(t, env, c.args...)
		if r.code != 2 || !strings.HasPrefix(r.err, "error: ") {
			t.Errorf("%v: exit %d, stderr %q", c.args, r.code, r.err)
		}
		for _, w := range c.want {
			if !strings.Contains(r.err, w) {
				t.Errorf("%v: stderr lacks %q: %s", c.args, w, r.err)
			}
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("refused sets wrote the config file: %v", err)
	}
}
