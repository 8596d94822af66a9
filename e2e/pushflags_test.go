package e2e

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// A push the library refuses for a value a flag gave names that flag, with
// the library's reason and the exit code it always had (2, usage); a value
// from REF's tag or an index entry names no flag. Nothing reaches the
// registry.
func TestPushErrorsNameTheirFlag(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	repo := reg.Host + "/acme/rules/my-rules"
	rules := e.write("src/my_rules.yaml", "- rule: r\n")
	plugin := e.write("src/libx.so", "ELF")
	addIndex(t, e, "acme", "- name: entry\n  type: rulesfile\n  registry: "+reg.Host+"\n  repository: acme/rules/my-rules\n")
	push := func(args ...string) []string { return append([]string{"artifact", "push"}, args...) }
	rpush := func(args ...string) []string { return append([]string{"registry", "push"}, args...) }
	reg.Reset()
	for _, c := range []struct {
		args []string
		want string // the error line's start after "error: "
	}{
		{push(repo, rules, "--type", "rulesfile", "--version", "1.0"), `--version: version "1.0" is not strict semver X.Y.Z[-PRE]`},
		{push(repo, rules, "--type", "rulesfile", "--version", "1.0.0+b.1"), `--version: version "1.0.0+b.1" has build metadata`},
		{push(repo, rules, "--type", "driver", "--version", "1.0.0"), `--type: unknown artifact type "driver"`},
		{push(repo, rules, "--type", "rulesfile", "--version", "1.0.0", "--platform", "linux/amd64"), "--platform: a platform applies to plugins only"},
		{push(repo, plugin, "--type", "plugin", "--version", "1.0.0", "--platform", "linux"), `--platform: platform "linux": want OS/ARCH`},
		{push(repo, rules, "--type", "rulesfile", "--version", "1.0.0", "--source-repo", "https://github.com/other/rules"), "--source-repo: repository not namespaced by its source"},
		{push(repo, rules, "--type", "rulesfile", "--version", "1.0.0", "--source-repo", "ftp://x/y"), `--source-repo: source "ftp://x/y" is not an http(s) URL`},
		{push(repo, rules, "--type", "rulesfile", "--version", "1.0.0", "--requires", "engine_version_semver"), `--requires "engine_version_semver": want NAME:VERSION`},
		{push(repo, rules, "--type", "rulesfile", "--version", "1.0.0", "--depends-on", "k8saudit:x"), `--depends-on "k8saudit:x": "x" is not a version`},
		{rpush(repo, rules, "--type", "rulesfile", "--version", "1.0"), `--version: version "1.0" is not strict semver`},
		{rpush(repo, rules, "--type", "asset2", "--version", "1.0.0"), `--type: unknown artifact type "asset2"`},
		{rpush(repo, plugin, "--type", "plugin", "--version", "1.0.0", "--platform", "linux"), `--platform: platform "linux": want OS/ARCH`},
		// Not from a flag: REF's tag, the version an index entry's
		// reference asks for, two FILEs.
		{push(repo+":1.0", rules, "--type", "rulesfile"), `version "1.0" is not strict semver`},
		{push("entry:1.0", rules), `version "1.0" is not strict semver`},
		{push(repo, rules, rules, "--type", "rulesfile", "--version", "1.0.0"), "a rulesfile is one file, got 2"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			oneLine(t, e.ferry(c.args...), 2, "error: "+c.want)
		})
	}
	if got := reg.Requests(); len(got) != 0 {
		t.Errorf("the registry got %d requests: %v", len(got), got)
	}
}
