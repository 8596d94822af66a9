package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/crypto/bcrypt"

	"github.com/ferryhq/ferry/internal/testutil"
)

// TestInfoErrorsExit: info prints the facts it found, but a missing
// platform exits 3 and a manifest that does not parse exits 1, each with
// ferry's one error line on stderr and no "Error:" row in the result.
func TestInfoErrorsExit(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	so := e.write("src/libplug.so", "ELF")
	repo := reg.Host + "/acme/plugins/plugin/plug"
	e.ok("artifact", "push", repo, so, "--type", "plugin", "--version", "1.0.0", "--platform", "linux/amd64")

	r := e.ferry("artifact", "info", repo+":1.0.0", "--platform", "linux/s390x")
	oneLine(t, r, 3, "linux/s390x", "linux/amd64")
	if strings.Contains(r.Stdout, "Error") || !strings.Contains(r.Stdout, "linux/amd64") {
		t.Errorf("stdout should hold the facts and no error row:\n%s", r.Stdout)
	}
	r = e.ferry("artifact", "info", repo+":1.0.0", "--platform", "linux/s390x", "-o", "json")
	if r.Code != 3 || !strings.Contains(r.Stdout, `"error"`) {
		t.Errorf("json: exit %d, stdout %s", r.Code, r.Stdout)
	}

	// A manifest whose digest is right but whose content is not JSON.
	garbage := []byte("{this is not a manifest")
	sum := sha256.Sum256(garbage)
	dgst := "sha256:" + hex.EncodeToString(sum[:])
	reg.SetFault(func(w http.ResponseWriter, req *http.Request) bool {
		if !strings.Contains(req.URL.Path, "/manifests/") {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Docker-Content-Digest", dgst)
		w.Header().Set("Content-Length", "23")
		w.WriteHeader(http.StatusOK)
		if req.Method == http.MethodGet {
			_, _ = w.Write(garbage)
		}
		return true
	})
	defer reg.SetFault(nil)
	r = e.ferry("artifact", "info", repo+":1.0.0")
	oneLine(t, r, 1, "manifest")
	if strings.Contains(r.Stdout, "Error") {
		t.Errorf("stdout holds an error row:\n%s", r.Stdout)
	}
}

// TestLoginWrongPasswordAndLogout: a refused login exits 4 with a hint and
// stores nothing; logging out of a host never logged in says so and exits
// 0, as docker does.
func TestLoginWrongPasswordAndLogout(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	htpasswd := e.write("htpasswd", "alice:"+string(hash)+"\n")
	reg := startRegistry(t, fmt.Sprintf("auth:\n  htpasswd:\n    realm: ferry-test\n    path: %s\n", htpasswd))

	oneLine(t, e.ferry("registry", "login", reg.Host, "-u", "alice", "-p", "wrong"), 4, reg.Host, "401", "hint: ", "ferry registry login "+reg.Host)
	if _, err := os.Stat(e.path("docker", "config.json")); err == nil && strings.Contains(e.read("docker", "config.json"), reg.Host) {
		t.Errorf("a refused login stored credentials: %s", e.read("docker", "config.json"))
	}

	r := e.ok("registry", "logout", reg.Host)
	if r.Stdout != "Not logged in to "+reg.Host+"\n" {
		t.Errorf("logout of a host never logged in: %q", r.Stdout)
	}
	e.ok("registry", "login", reg.Host, "-u", "alice", "-p", "s3cret")
	if r := e.ok("registry", "logout", reg.Host); r.Stdout != "Logged out of "+reg.Host+"\n" {
		t.Errorf("logout: %q", r.Stdout)
	}
	if r := e.ok("registry", "logout", reg.Host); !strings.HasPrefix(r.Stdout, "Not logged in") {
		t.Errorf("second logout: %q", r.Stdout)
	}
}

// TestPushBuildMetadataRefused: OCI tags cannot hold "+", so a version with
// build metadata is refused before any request reaches the registry.
func TestPushBuildMetadataRefused(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	src := e.write("src/my_rules.yaml", "- rule: r\n")
	reg.Reset()
	oneLine(t, e.ferry("artifact", "push", reg.Host+"/acme/rules/my-rules", src, "--type", "rulesfile", "--version", "1.0.0+build.7"), 2, "1.0.0+build.7", "+")
	if got := reg.Requests(); len(got) != 0 {
		t.Errorf("the registry got %d requests before the refusal: %v", len(got), got)
	}
	// A pre-release is the place for what build metadata would carry.
	e.ok("artifact", "push", reg.Host+"/acme/rules/my-rules", src, "--type", "rulesfile", "--version", "1.0.0-build.7")
}

// TestIndexAddRelativePath: a relative index path is stored absolute, so
// that index update works from any directory; an empty URL is a usage error.
func TestIndexAddRelativePath(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write("sub/idx.yaml", "- name: x\n  type: rulesfile\n  registry: r.io\n  repository: acme/rules/x\n")
	run := func(dir string, args ...string) result {
		t.Helper()
		cmd := e.command(args...)
		cmd.Dir = dir
		return runCommand(t, cmd)
	}
	if r := run(e.path("sub"), "index", "add", "local", "./idx.yaml"); r.Code != 0 {
		t.Fatalf("index add: exit %d: %s", r.Code, r.Stderr)
	}
	r := run("/", "index", "list", "-o", "json")
	if !strings.Contains(r.Stdout, `"url": "`+e.path("sub", "idx.yaml")+`"`) {
		t.Errorf("the stored URL is not the absolute path:\n%s", r.Stdout)
	}
	if r := run("/", "index", "update", "local"); r.Code != 0 {
		t.Errorf("index update from another directory: exit %d: %s", r.Code, r.Stderr)
	}
	oneLine(t, e.ferry("index", "add", "x", ""), 2, "URL")
}

// TestPushUnboundedInput: a device or a FIFO is refused before it is read
// (exit 2); a huge file is packed as a stream, and SIGINT stops the push
// (exit 130) and removes the partly packed layer.
func TestPushUnboundedInput(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	repo := reg.Host + "/acme/rules/my-rules"
	fifo := e.path("fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"rulesfile", "asset"} {
		oneLine(t, e.ferry("artifact", "push", repo, "/dev/zero", "--type", typ, "--version", "1.0.0"), 2, "/dev/zero", "not a regular file")
		oneLine(t, e.ferry("artifact", "push", repo, fifo, "--type", typ, "--version", "1.0.0"), 2, fifo, "not a regular file")
	}
	// A sparse file of zeros, as large as a disk: a rules file that is not
	// one is refused after a bounded read.
	huge := e.path("huge.yaml")
	if err := os.WriteFile(huge, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, 1<<40); err != nil {
		t.Fatal(err)
	}
	oneLine(t, e.ferry("artifact", "push", repo, huge, "--type", "rulesfile", "--version", "1.0.0"), 2, "huge.yaml", "rules file")

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		tmp := t.TempDir()
		cmd := e.command("artifact", "push", reg.Host+"/acme/assets/huge", huge, "--type", "asset", "--version", "1.0.0")
		cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
		var errOut strings.Builder
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		packing := func() bool { m, _ := filepath.Glob(filepath.Join(tmp, "ferry-layer-*")); return len(m) > 0 }
		for deadline := time.Now().Add(30 * time.Second); !packing() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if !packing() {
			_ = cmd.Process.Kill()
			t.Fatalf("push did not start packing: %s", errOut.String())
		}
		_ = cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 130 {
				t.Errorf("%v: %v, want exit 130; stderr: %s", sig, err, errOut.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("%v ignored: push still running", sig)
		}
		if packing() {
			t.Errorf("%v: the partly packed layer was left in %s", sig, tmp)
		}
		if n := reg.Count(http.MethodPut, "/acme/assets/huge/manifests/"); n != 0 {
			t.Errorf("%v: a manifest was pushed", sig)
		}
	}
}

// TestResultNamesWhatServed: the text result of an install names the mirror
// that served it, and verify's signature line names the Sigstore bundle
// that verified, not the .sig tag that was not there.
func TestResultNamesWhatServed(t *testing.T) {
	t.Parallel()
	primary, mirror := testutil.NewRegistry(t), testutil.NewRegistry(t)
	e := newEnv(t)
	repo := "acme/rules/my-rules"
	publishRules(t, e, primary.Host+"/"+repo, "1.0.0")
	// The mirror holds the same artifact, at the same digest.
	e.ok("artifact", "promote", primary.Host+"/"+repo+":1.0.0", mirror.Host+"/cache/my-rules:1.0.0")
	addIndex(t, e, "acme", fmt.Sprintf(`- name: rules
  type: rulesfile
  registry: %s
  repository: %s
  mirrors:
    - registry: %s
      repository: cache/my-rules
`, primary.Host, repo, mirror.Host))
	primary.SetFault(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	r := e.ok("artifact", "install", "rules:1.0.0")
	mustContain(t, "install from the mirror", r.Stdout, "from    "+mirror.Host+"/cache/my-rules:1.0.0")
	if strings.Contains(r.Stdout, "from    "+primary.Host) {
		t.Errorf("the result names the primary:\n%s", r.Stdout)
	}
	primary.SetFault(nil)

	ref := primary.Host + "/" + repo + ":1.0.0"
	bundle, pub := testutil.KeyBundle(t, digest.Digest(digestOf(t, e, ref)))
	testutil.AttachBundle(t, primary.Host, repo, "1.0.0", bundle)
	r = e.ok("artifact", "verify", ref, "--key", e.write("key.pub", string(pub)))
	var line string
	for _, l := range strings.Split(r.Stdout, "\n") {
		if strings.Contains(l, " signature ") {
			line = l
		}
	}
	if !strings.Contains(line, "ok") || strings.Contains(line, ".sig") || !strings.Contains(line, "bundle") {
		t.Errorf("signature line %q\n%s", line, r.Stdout)
	}
}

// TestBundleUnsigned: bundling an artifact whose index entry asks for a
// signature, but that has none, warns; with --require-signatures it fails
// (exit 5) and writes nothing. A signed one bundles without a word.
func TestBundleUnsigned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg, ss := publishSigned(t, e)
	attachSigned(t, e, reg, ss, "1.1.0", signer)
	out := e.path("b.tar")

	r := e.ok("artifact", "bundle", "rules:1.0.0", "-O", out)
	mustContain(t, "bundle of an unsigned artifact", r.Stderr, "warning: ", "rules 1.0.0", "no signature", "--require-signatures")
	if _, err := os.Stat(out); err != nil {
		t.Errorf("no bundle written: %v", err)
	}
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	oneLine(t, e.ferry("artifact", "bundle", "rules:1.0.0", "-O", out, "--require-signatures"), 5, "rules 1.0.0", "no signature")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused bundle was written: %v", err)
	}
	r = e.ok("artifact", "bundle", "rules:1.1.0", "-O", out, "--require-signatures")
	if r.Stderr != "" {
		t.Errorf("a signed artifact bundled with: %s", r.Stderr)
	}
	// An entry with no signature block asks for nothing.
	publishRules(t, e, reg.Host+"/acme/rules/other", "1.0.0")
	if r := e.ok("artifact", "bundle", "unsigned:1.0.0", "-O", out, "--require-signatures"); r.Stderr != "" {
		t.Errorf("an entry with no signature block: %s", r.Stderr)
	}
}

// TestPathHints: a permission refused, a destination that is a file, a
// dangling symlink: one error line and a hint that names the path, the
// flag that sets it, and sudo where being root would help.
func TestPathHints(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	ref := reg.Host + "/acme/rules/my-rules:1.0.0"
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0")

	file := e.write("afile", "x")
	dangling := e.path("dangling")
	if err := os.Symlink(e.path("nowhere", "x"), dangling); err != nil {
		t.Fatal(err)
	}
	oneLine(t, e.ferry("artifact", "install", ref, "--rulesfiles-dir", file), 1, "hint: "+file+" is a file, not a directory", "--rulesfiles-dir DIR")
	oneLine(t, e.ferry("artifact", "install", ref, "--rulesfiles-dir", filepath.Join(file, "sub")), 1, "hint: "+file+" is a file, not a directory", "--rulesfiles-dir DIR")
	oneLine(t, e.ferry("artifact", "install", ref, "--state-dir", dangling), 1, "hint: "+dangling+" is a symlink to "+e.path("nowhere", "x")+", which does not exist", "--state-dir DIR", "FERRY_STATE_DIR")
	// A file the user named that is not there needs no hint.
	if r := e.ferry("artifact", "push", reg.Host+"/acme/rules/x", e.path("nope.yaml"), "--type", "rulesfile", "--version", "1.0.0"); strings.Contains(r.Stderr, "hint:") {
		t.Errorf("a missing file got a hint: %s", r.Stderr)
	}

	// Permissions, as a user that is not root: as root, through setpriv.
	readOnly := e.path("readonly")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	run := func(vars []string, args ...string) result {
		t.Helper()
		cmd := exec.Command(ferryBin, args...)
		if os.Geteuid() == 0 {
			setpriv, err := exec.LookPath("setpriv")
			if err != nil {
				t.Skip("running as root without setpriv: cannot drop privileges")
			}
			cmd = exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", ferryBin}, args...)...)
		}
		cmd.Env = vars
		return runCommand(t, cmd)
	}
	if os.Geteuid() == 0 {
		// The unprivileged user must reach the binary and the environment.
		for _, d := range []string{filepath.Dir(ferryBin), filepath.Dir(e.Home), e.Home} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range []string{"state2", "falco", "config", "cache"} {
			if err := os.MkdirAll(e.path(d), 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(e.path(d), 0o777); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := run(withoutVar(e.vars, "FERRY_STATE_DIR"), "artifact", "install", ref)
	if probe := os.WriteFile("/var/lib/ferry/.probe", nil, 0o644); os.Geteuid() != 0 && probe == nil {
		t.Log("/var/lib/ferry is writable by this user: the default state directory case is not tested")
	} else {
		oneLine(t, r, 1, "permission denied", "hint: ferry may not write /var/lib/ferry", "sudo", "--state-dir DIR", "FERRY_STATE_DIR")
	}
	r = run(e.vars, "artifact", "install", ref, "--rulesfiles-dir", readOnly, "--state-dir", e.path("state2"))
	oneLine(t, r, 1, "permission denied", "hint: ferry may not write "+readOnly, "sudo", "--rulesfiles-dir DIR")
}
