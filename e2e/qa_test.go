package e2e

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// An engine version that is not a version is a usage error where the user
// types it, not a failed requirement (exit 5) once the registry was asked.
func TestEngineVersionMustBeAVersion(t *testing.T) {
	t.Parallel()
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

// Run as falcoctl, the hints name the commands to run as falcoctl: the
// binary may be installed only under that name.
func TestFalcoctlHintsNameFalcoctl(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newFalcoctlEnv(t)
	idx := e.write("index.yaml", rulesIndex(reg.Host))
	cfg := e.write("falcoctl.yaml", "indexes:\n- name: acme\n  url: file://"+idx+"\nartifact:\n  install:\n    stateDir: "+e.path("state")+"\n")
	r := e.run("--config", cfg, "artifact", "install", "nosuch:1.x")
	oneLine(t, r, 3, "hint: run: falcoctl artifact search nosuch (or falcoctl index update")
	if strings.Contains(r.Stderr, "ferry ") {
		t.Errorf("a hint names ferry, which falcoctl mode may not have:\n%s", r.Stderr)
	}
	r = e.run("--config", cfg, "--log-format", "json", "artifact", "install", "nosuch:1.x")
	lines := jsonLines(t, r.Stderr)
	if len(lines) != 2 || lines[1]["msg"] != "run: falcoctl artifact search nosuch (or falcoctl index update, to fetch the indexes again)" {
		t.Errorf("json hint: %v", lines)
	}
	// As ferry, the hints keep ferry's name.
	fe := newEnv(t)
	addIndex(t, fe, "acme", rulesIndex(reg.Host))
	oneLine(t, fe.ferry("artifact", "install", "nosuch:1.x"), 3, "hint: run: ferry artifact search nosuch")
}

// As falcoctl, config view shows the indexes commands use: the configured
// ones replace the embedded default, as index list and artifact list show.
func TestFalcoctlConfigViewIndexes(t *testing.T) {
	t.Parallel()
	e := newFalcoctlEnv(t)
	idx := e.write("index.yaml", rulesIndex("127.0.0.1:5000"))
	cfg := e.write("falcoctl.yaml", "indexes:\n- name: falcosecurity\n  url: file://"+idx+"\n")
	view := e.run("--config", cfg, "config", "view")
	list := e.run("--config", cfg, "index", "list")
	if view.Code != 0 || list.Code != 0 {
		t.Fatalf("config view: %d %s\nindex list: %d %s", view.Code, view.Stderr, list.Code, list.Stderr)
	}
	if strings.Contains(list.Stdout, "embedded") {
		t.Fatalf("index list as falcoctl lists the embedded index:\n%s", list.Stdout)
	}
	if strings.Contains(view.Stdout, "indexes.default") {
		t.Errorf("config view lists the embedded index that falcoctl mode does not use:\n%s", view.Stdout)
	}
	if !strings.Contains(view.Stdout, "indexes.falcosecurity") {
		t.Errorf("config view lacks the configured index:\n%s", view.Stdout)
	}
	// As ferry, the embedded default is used, and shown.
	fe := newEnv(t)
	if r := fe.ok("config", "view"); !strings.Contains(r.Stdout, "indexes.default") {
		t.Errorf("ferry config view lacks the embedded default:\n%s", r.Stdout)
	}
}

// --cron and --every on one command line are refused, as falcoctl does,
// rather than one of them being silently ignored.
func TestFollowCronAndEvery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	oneLine(t, e.ferry("artifact", "follow", "rules:1.x", "--every", "1s", "--cron", "* * * * *"), 2, "--cron", "--every")
	fc := newFalcoctlEnv(t)
	cfg := fc.write("falcoctl.yaml", "artifact:\n  follow:\n    stateDir: "+fc.path("state")+"\n")
	oneLine(t, fc.run("--config", cfg, "artifact", "follow", "rules:1.x", "-e", "1s", "--cron", "* * * * *"), 2, "--cron", "--every")
}
