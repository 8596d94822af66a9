package e2e

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// A file that a flag names and that does not exist is a not-found (exit 3),
// as a missing FILE, index path, lock file or bundle is, with one error
// line naming the flag and the path, in every command that takes the flag.
func TestMissingInputFileFlags(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	repo := reg.Host + "/acme/rules/my-rules"
	publishRules(t, e, repo, "1.0.0")
	ca := e.path("no-such-ca.pem")
	root := e.path("no-such-trusted_root.json")
	key := e.path("no-such-key.pem")
	cfg := e.path("no-such-config.yaml")
	dest := e.path("dest")
	for _, c := range []struct {
		flag, path string
		args       []string
	}{
		{"ca-file", ca, []string{"artifact", "install", repo + ":1.0.0", "--ca-file", ca}},
		{"ca-file", ca, []string{"artifact", "info", repo + ":1.0.0", "--ca-file", ca}},
		{"ca-file", ca, []string{"artifact", "verify", repo + ":1.0.0", "--ca-file", ca}},
		{"ca-file", ca, []string{"registry", "pull", repo + ":1.0.0", "--dest-dir", dest, "--ca-file", ca}},
		{"ca-file", ca, []string{"artifact", "push", repo, e.write("src/x.yaml", "- rule: x\n"), "--type", "rulesfile", "--version", "1.0.1", "--ca-file", ca}},
		{"trusted-root", root, []string{"artifact", "install", repo + ":1.0.0", "--trusted-root", root}},
		{"trusted-root", root, []string{"artifact", "verify", repo + ":1.0.0", "--trusted-root", root}},
		{"trusted-root", root, []string{"artifact", "promote", repo + ":1.0.0", reg.Host + "/acme/prod/my-rules", "--trusted-root", root}},
		{"trusted-root", root, []string{"artifact", "follow", repo + ":1.0.0", "--trusted-root", root}},
		{"key", key, []string{"artifact", "install", repo + ":1.0.0", "--key", key}},
		{"key", key, []string{"artifact", "verify", repo + ":1.0.0", "--key", key}},
		{"key", key, []string{"artifact", "promote", repo + ":1.0.0", reg.Host + "/acme/prod/my-rules", "--key", key}},
		{"key", key, []string{"artifact", "follow", repo + ":1.0.0", "--key", key}},
		{"config", cfg, []string{"artifact", "list", "--config", cfg}},
		{"ca-file", ca, []string{"events", "flush", "--events-sink", "http://127.0.0.1:1/", "--state-dir", e.path("state"), "--ca-file", ca}},
	} {
		t.Run(c.flag+" "+c.args[0]+" "+c.args[1], func(t *testing.T) {
			oneLine(t, e.ferry(c.args...), 3, "error: --"+c.flag+" "+c.path+": no such file")
		})
	}
	// --key may be the PEM key itself: that is no file to look for.
	if r := e.ferry("artifact", "verify", repo+":1.0.0", "--key", "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n"); r.Code == 3 || strings.Contains(r.Stderr, "no such file") {
		t.Errorf("a PEM --key: exit %d: %s", r.Code, r.Stderr)
	}
	// FERRY_CA_FILE is --ca-file.
	r := e.command("artifact", "info", repo+":1.0.0")
	r.Env = append(r.Env, "FERRY_CA_FILE="+ca)
	oneLine(t, runCommand(t, r), 3, "error: --ca-file "+ca+": no such file")
}
