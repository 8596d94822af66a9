package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// A config file that does not parse, or holds a value of the wrong type,
// is invalid input (exit 2), reported on one line naming the file and the
// line, in ferry mode and in falcoctl mode alike.
func TestMalformedConfigIsInvalidInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, content, want string
	}{
		{"syntax", "indexes:\n  - name: x\n    url: [unclosed\n", ": line 3: did not find expected"},
		{"type", "engine: {}\nindexes: hello\n", ": line 2: want a list, not a string (hello)"},
		{"falcoctl-auth", "registry:\n  auth:\n    basic: hello\n", ": line 3: want a list"},
		{"falcoctl-value", "artifact:\n  follow:\n    every: {a: b}\n", ": line 3: artifact.follow.every: want a duration, not a mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.write("bad.yaml", c.content)
			oneLine(t, e.ferry("--config", cfg, "index", "list"), 2, "config "+cfg+c.want)

			fc := newFalcoctlEnv(t)
			cfg = fc.write("falcoctl.yaml", c.content)
			oneLine(t, fc.run("--config", cfg, "index", "list"), 2, "config "+cfg+c.want)
			oneLine(t, fc.run("--config", cfg, "artifact", "install", "rules"), 2, "config "+cfg+c.want)
		})
	}
}

// As falcoctl, a path hint names the variable falcoctl users set for the
// flag (FALCOCTL_<KEY> of the key table), not ferry's FERRY_*.
func TestFalcoctlPathHintNamesFalcoctlVariables(t *testing.T) {
	t.Parallel()
	fc := newFalcoctlEnv(t)
	file := fc.write("afile", "")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"artifact", "install", "rules:1.x", "--state-dir", file + "/sub"}, "--state-dir DIR (or FALCOCTL_ARTIFACT_INSTALL_STATEDIR; now " + file + "/sub)"},
		{[]string{"artifact", "install", "rules:1.x", "--state-dir", fc.path("state"), "--rulesfiles-dir", file}, "--rulesfiles-dir DIR (or FALCOCTL_ARTIFACT_INSTALL_RULESFILESDIR; now " + file + ")"},
	}
	for _, c := range cases {
		r := fc.run(c.args...)
		oneLine(t, r, 1, "hint: "+file+" is a file, not a directory", c.want)
		if strings.Contains(r.Stderr, "FERRY_") || strings.Contains(r.Stderr, "ferry ") {
			t.Errorf("a falcoctl hint names ferry's variables or command:\n%s", r.Stderr)
		}
	}
	// As ferry, the hint names FERRY_*.
	e := newEnv(t)
	file = e.write("afile", "")
	oneLine(t, e.ferry("artifact", "install", "rules:1.x", "--state-dir", file+"/sub"), 1, "(or FERRY_STATE_DIR; now "+file+"/sub)")
}

// A push FILE that does not exist is not found (exit 3), as a missing tag
// or file is elsewhere; one that is not a regular file stays a usage
// error (exit 2). The same as falcoctl's registry push.
func TestPushMissingFileIsNotFound(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	repo := reg.Host + "/acme/rules/my-rules"
	missing := e.path("nope.yaml")
	oneLine(t, e.ferry("artifact", "push", repo, missing, "--type", "rulesfile", "--version", "1.0.0"), 3, missing)
	oneLine(t, e.ferry("artifact", "push", repo, e.Home, "--type", "rulesfile", "--version", "1.0.0"), 2, "not a regular file")
	fc := newFalcoctlEnv(t)
	oneLine(t, fc.run("registry", "push", repo, missing, "--type", "rulesfile", "--version", "1.0.0", "--plain-http"), 3, missing)
}

// --tmp-dir is accepted, as falcoctl's follow has it, and its help says
// what ferry does with it: nothing is written there, since every
// download streams into staging beside its destination.
func TestFollowTmpDirIsUnused(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))
	help := strings.Join(strings.Fields(e.ok("artifact", "follow", "--help").Stdout), " ")
	if !strings.Contains(help, "ferry writes nothing there") || !strings.Contains(help, ".ferry-staging in its destination directory") {
		t.Errorf("follow --help does not say what --tmp-dir does:\n%s", help)
	}
	tmp := e.path("tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	fw := startFollow(t, e, "rules:1.x", "--every", "1h", "--jitter", "0", "--tmp-dir", tmp)
	fw.waitFor("1.0.0 installed", func() bool {
		data, _ := os.ReadFile(e.path("falco", "my_rules.yaml"))
		return strings.Contains(string(data), "version 1.0.0\n")
	})
	fw.stop()
	if entries, err := os.ReadDir(tmp); err != nil || len(entries) != 0 {
		t.Errorf("--tmp-dir holds %v (%v), but its help says nothing is written there", entries, err)
	}
	oneLine(t, e.ferry("artifact", "follow", "rules:1.x", "--tmp-dir", e.path("none")), 2, "--tmp-dir")
}
