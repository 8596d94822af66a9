package cmdutil

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLookupKey(t *testing.T) {
	for name, want := range map[string]string{
		"defaults.state-dir":                 "defaults.state-dir",
		"defaults.concurrency":               "defaults.*",
		"registries.r.io:5000.caFile":        "registries.*.caFile",
		"engine.versions.plugin_api_version": "engine.versions.*",
		"artifact.follow.every":              "artifact.follow.every",
		"ARTIFACT.Install.RulesFilesDir":     "artifact.install.rulesfilesDir",
		"driver.hostroot":                    "driver.hostRoot",
		"registry.auth.basic[].password":     "registry.auth.basic[].password",
		"engine.versions.a.b":                "",
		"nosuch":                             "",
	} {
		got := ""
		if k := LookupKey(name); k != nil {
			got = k.Name
		}
		if got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if got := FalcoctlEnvName("artifact.follow.startupBehavior"); got != "FALCOCTL_ARTIFACT_FOLLOW_STARTUPBEHAVIOR" {
		t.Error(got)
	}
	if got := SplitList("a;b, c", true); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Error(got)
	}
}

func TestLoadConfigCanonicalKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	data := `Indexes:
- Name: falcosecurity
  URL: https://example.com/index.yaml
  backend: https
artifact:
  Follow:
    Every: 1h
    refs: [a:1, b]
  install:
    refs: "c:1;d"
registry:
  auth:
    basic:
    - registry: r.io
      user: u
      password: p
    oauth:
    - registry: o.io
      clientSecret: s
      clientID: id
      tokenURL: https://o.io/token
    gcp:
    - registry: europe-docker.pkg.dev
  creds:
    config: /etc/creds.json
events:
  sinks:
  - url: http://x
    headers: {X-Token: t}
  nope: 1
`
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Unknown, []string{"events.nope"}) {
		t.Errorf("unknown: %v", cfg.Unknown)
	}
	if len(cfg.Indexes) != 1 || cfg.Indexes[0].URL != "https://example.com/index.yaml" || cfg.Indexes[0].Backend != "https" {
		t.Errorf("indexes: %+v", cfg.Indexes)
	}
	if v, list, ok := cfg.Value("artifact.follow.every"); !ok || list || v[0] != "1h" {
		t.Errorf("every: %v %v %v", v, list, ok)
	}
	if got := cfg.Refs("artifact.follow.refs"); !slices.Equal(got, []string{"a:1", "b"}) {
		t.Errorf("follow refs: %v", got)
	}
	if got := cfg.Refs("artifact.install.refs"); !slices.Equal(got, []string{"c:1", "d"}) {
		t.Errorf("install refs: %v", got)
	}
	auth, err := cfg.Auth()
	if err != nil {
		t.Fatal(err)
	}
	if len(auth.Basic) != 1 || auth.Basic[0] != (BasicAuth{"r.io", "u", "p"}) ||
		len(auth.OAuth) != 1 || auth.OAuth[0] != (OAuthAuth{"o.io", "s", "id", "https://o.io/token"}) ||
		len(auth.GCP) != 1 || auth.GCP[0].Registry != "europe-docker.pkg.dev" {
		t.Errorf("auth: %+v", auth)
	}
	if cfg.CredentialsFile() != "/etc/creds.json" {
		t.Errorf("creds: %q", cfg.CredentialsFile())
	}
	if !cfg.HoldsCredentials() {
		t.Error("credentials not seen")
	}
	// Saved, it loads the same and is private.
	out := filepath.Join(t.TempDir(), "out.yaml")
	if err := cfg.Save(out); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	again, err := LoadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if a2, _ := again.Auth(); len(a2.Basic) != 1 || again.Refs("artifact.follow.refs") == nil {
		t.Errorf("lost on save: %+v", a2)
	}
}

func TestLogWriterJSON(t *testing.T) {
	var buf bytes.Buffer
	lw := NewLogWriter(&buf)
	lw.Now = func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }
	lw.SetJSON(true)
	_, _ = lw.Write([]byte("error: it broke\nhint: run: x\nwarn"))
	_, _ = lw.Write([]byte("ing: careful\n{\"level\":\"INFO\",\"msg\":\"raw\"}\nplain line"))
	lw.Flush()
	want := []map[string]any{
		{"level": "ERROR", "msg": "it broke", "timestamp": "2025-01-02 03:04:05"},
		{"level": "INFO", "msg": "run: x", "hint": true, "timestamp": "2025-01-02 03:04:05"},
		{"level": "WARN", "msg": "careful", "timestamp": "2025-01-02 03:04:05"},
		{"level": "INFO", "msg": "raw"},
		{"level": "INFO", "msg": "plain line", "timestamp": "2025-01-02 03:04:05"},
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for i, l := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want[i])
		if string(gj) != string(wj) {
			t.Errorf("line %d: %s, want %s", i, gj, wj)
		}
	}
	// Text mode passes through.
	buf.Reset()
	lw.SetJSON(false)
	_, _ = lw.Write([]byte("error: x\n"))
	if buf.String() != "error: x\n" {
		t.Errorf("text mode: %q", buf.String())
	}
}
