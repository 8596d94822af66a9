package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A reference that is not in the registry: exit 3, and "not found" said
// once (the registry's answer named the reference a second time).
func TestPullNotFoundSaysItOnce(t *testing.T) {
	env, dir, reg := falcoctlFixture(t)
	delete(env, "FERRY_CONFIG")
	for _, args := range [][]string{
		{"registry", "pull", reg.Host + "/acme/rules/my-rules:9.9.9", "--dest-dir", filepath.Join(dir, "d")},
		{"registry", "pull", reg.Host + "/acme/nothing:1", "--dest-dir", filepath.Join(dir, "d")},
		{"artifact", "info", reg.Host + "/acme/rules/my-rules:9.9.9"},
	} {
		r := ferry(t, env, args...)
		if r.code != 3 || strings.Count(r.err, "not found") != 1 || !strings.Contains(r.err, args[2]) {
			t.Errorf("%v: exit %d, want 3 and one \"not found\" naming the reference: %s", args, r.code, r.err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "d")); err == nil {
		t.Error("a failed pull created the destination directory")
	}
}

// A file a command reads that does not exist (an index path, a bundle, a
// lock file) exits 3, as the help says of a missing file.
func TestMissingFileExits3(t *testing.T) {
	env, dir := userEnv(t)
	missing := filepath.Join(dir, "missing")
	for _, args := range [][]string{
		{"index", "add", "local", missing + ".yaml"},
		{"index", "add", "local", "file://" + missing + ".yaml"},
		{"artifact", "verify", "--from", missing + ".tar", "falco-rules:3"},
	} {
		r := ferry(t, env, args...)
		if r.code != 3 || !strings.Contains(r.err, missing) {
			t.Errorf("%v: exit %d, want 3 naming the file: %s", args, r.code, r.err)
		}
	}
	// An index that went missing after it was added: update exits 3 too.
	idx := writeFile(t, filepath.Join(dir, "index.yaml"), "- name: r\n  type: rulesfile\n  registry: 127.0.0.1:1\n  repository: r\n")
	mustFerry(t, env, "index", "add", "local", idx)
	if err := os.Remove(idx); err != nil {
		t.Fatal(err)
	}
	if r := ferry(t, env, "index", "update", "local"); r.code != 3 || !strings.Contains(r.err, idx) {
		t.Errorf("index update of a missing file: exit %d, want 3: %s", r.code, r.err)
	}
}

// verify --lock-file naming a missing file exits 3.
func TestVerifyMissingLockFileExits3(t *testing.T) {
	env, dir, reg := falcoctlFixture(t)
	delete(env, "FERRY_CONFIG")
	missing := filepath.Join(dir, "missing.lock")
	r := ferry(t, env, "artifact", "verify", reg.Host+"/acme/rules/my-rules:1.0.0", "--lock-file", missing)
	if r.code != 3 || !strings.Contains(r.err, missing) {
		t.Errorf("exit %d, want 3 naming the lock file: %s", r.code, r.err)
	}
}
