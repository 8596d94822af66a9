package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ferryhq/ferry/internal/testutil"
)

// follower is a running "ferry artifact follow".
type follower struct {
	t              *testing.T
	stdout, stderr *syncBuffer
	done           chan error
	proc           *os.Process
}

func startFollow(t *testing.T, e *env, args ...string) *follower {
	t.Helper()
	return startFollower(t, e.command(append([]string{"artifact", "follow"}, args...)...))
}

// startFollower starts cmd, a follow, and kills it when the test ends.
func startFollower(t *testing.T, cmd *exec.Cmd) *follower {
	t.Helper()
	fw := &follower{t: t, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = fw.stdout, fw.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fw.proc = cmd.Process
	go func() { fw.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-fw.done })
	return fw
}

type followLine struct {
	Updated []struct{ Name, Version string }
	Checked int
	Error   string
}

func (fw *follower) lines() []followLine {
	var out []followLine
	for _, l := range strings.Split(strings.TrimSpace(fw.stdout.String()), "\n") {
		var fl followLine
		if json.Unmarshal([]byte(l), &fl) == nil {
			out = append(out, fl)
		}
	}
	return out
}

// waitFor polls cond until it holds or 30s passed.
func (fw *follower) waitFor(what string, cond func() bool) {
	fw.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		select {
		case err := <-fw.done:
			fw.t.Fatalf("follow exited (%v) waiting for %s\nstdout: %s\nstderr: %s", err, what, fw.stdout, fw.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	fw.t.Fatalf("timed out waiting for %s\nstdout: %s\nstderr: %s", what, fw.stdout, fw.stderr)
}

func (fw *follower) stop() {
	fw.t.Helper()
	if err := fw.proc.Signal(syscall.SIGTERM); err != nil {
		fw.t.Fatal(err)
	}
	select {
	case err := <-fw.done:
		fw.done <- err
		if err != nil {
			fw.t.Errorf("follow exited with %v on SIGTERM\nstderr: %s", err, fw.stderr)
		}
	case <-time.After(30 * time.Second):
		fw.t.Fatal("follow did not stop on SIGTERM")
	}
}

func TestFollow(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	repo := reg.Host + "/acme/rules/my-rules"
	publishRules(t, e, repo, "1.0.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))
	hook := e.path("updated.log")
	installed := func(v string) func() bool {
		return func() bool {
			data, _ := os.ReadFile(e.path("falco", "my_rules.yaml"))
			return strings.Contains(string(data), "version "+v+"\n")
		}
	}
	args := []string{"rules:1.x", "--every", "300ms", "--jitter", "0", "-o", "json",
		"--engine-version", "engine_version_semver=0.40.0", "--on-update", "echo \"$FERRY_UPDATED\" >> " + hook}

	fw := startFollow(t, e, args...)
	fw.waitFor("1.0.0 installed", installed("1.0.0"))
	publishRules(t, e, repo, "1.1.0")
	fw.waitFor("1.1.0 installed", installed("1.1.0"))
	fw.waitFor("the on-update hook", func() bool {
		data, _ := os.ReadFile(hook)
		return strings.Contains(string(data), "rules@1.1.0")
	})

	// 1.2.0 needs a newer engine: skipped, checks go on.
	src := e.write("src/my_rules.yaml", "- rule: r\n  desc: version 1.2.0\n")
	e.ok("artifact", "push", repo, src, "--type", "rulesfile", "--version", "1.2.0", "--requires", "engine_version_semver:0.50.0")
	n := len(fw.lines())
	fw.waitFor("two more checks", func() bool { return len(fw.lines()) >= n+2 })
	if !installed("1.1.0")() {
		t.Fatal("a version the engine cannot run was installed")
	}

	// An outage fails checks, not the follower.
	reg.SetFault(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	fw.waitFor("a failed check", func() bool { return strings.Contains(fw.stderr.String(), "warning: check failed") })
	reg.SetFault(nil)
	publishRules(t, e, repo, "1.3.0")
	fw.waitFor("1.3.0 installed", installed("1.3.0"))
	fw.stop()
	assertNoLitter(t, e.path("falco"))
	for _, l := range fw.lines() {
		for _, u := range l.Updated {
			if u.Version == "1.2.0" {
				t.Errorf("1.2.0 was installed: %+v", l)
			}
		}
	}

	// A restart keeps the state: the first check installs nothing, and
	// costs one tag listing (no manifest request: 1.3.0 is a version tag,
	// its manifest the recorded one).
	reg.Reset()
	fw = startFollow(t, e, args...)
	fw.waitFor("a check", func() bool { return len(fw.lines()) >= 1 })
	fw.stop()
	if l := fw.lines()[0]; len(l.Updated) != 0 || l.Error != "" || l.Checked != 1 {
		t.Errorf("first check after a restart: %+v", l)
	}
	if blobs := reg.Count("", "/blobs/"); blobs != 0 {
		t.Errorf("an idle check downloaded %d blobs", blobs)
	}
	if manifests := reg.Count("", "/manifests/"); manifests != 0 {
		t.Errorf("an idle check made %d manifest requests: %v", manifests, reg.Requests())
	}
}

// follow verifies signatures as install does: a newer version signed by
// someone else is not installed, one signed by the expected identity is.
func TestFollowVerifies(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	repo := "acme/rules/my-rules"
	publishRules(t, e, reg.Host+"/"+repo, "1.0.0")
	addIndex(t, e, "acme", signedIndex(reg.Host))
	ss := testutil.NewSigstore(t)
	sign := func(v, who string) {
		testutil.AttachBundle(t, reg.Host, repo, v, ss.Bundle(digest.Digest(digestOf(t, e, "rules:"+v)), who, issuer))
	}
	sign("1.0.0", signer)
	installed := func(v string) func() bool {
		return func() bool {
			data, _ := os.ReadFile(e.path("falco", "my_rules.yaml"))
			return strings.Contains(string(data), "version "+v+"\n")
		}
	}
	fw := startFollow(t, e, "rules:1.x", "--every", "300ms", "--jitter", "0", "-o", "json",
		"--trusted-root", ss.WriteTrustedRoot(e.path("root.json")))
	fw.waitFor("1.0.0 installed", installed("1.0.0"))

	publishRules(t, e, reg.Host+"/"+repo, "1.1.0")
	sign("1.1.0", "mallory@acme.example")
	fw.waitFor("a refused check", func() bool { return strings.Contains(fw.stderr.String(), "refusing to install rules 1.1.0") })
	if !installed("1.0.0")() {
		t.Fatal("a version signed by someone else was installed")
	}
	publishRules(t, e, reg.Host+"/"+repo, "1.2.0")
	sign("1.2.0", signer)
	fw.waitFor("1.2.0 installed", installed("1.2.0"))
	fw.stop()
}
