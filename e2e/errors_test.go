package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// oneLine checks that stderr is exactly one error line, and an optional hint.
func oneLine(t *testing.T, r result, code int, substr ...string) {
	t.Helper()
	if r.Code != code {
		t.Errorf("exit %d, want %d\nstderr: %s", r.Code, code, r.Stderr)
	}
	lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "error: ") || len(lines) > 2 || (len(lines) == 2 && !strings.HasPrefix(lines[1], "hint: ")) {
		t.Errorf("stderr is not one error line (+ hint):\n%s", r.Stderr)
	}
	for _, s := range substr {
		if !strings.Contains(r.Stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.Stderr)
		}
	}
	if strings.Contains(r.Stderr, "goroutine ") || strings.Contains(r.Stderr, "panic") {
		t.Errorf("stack trace on stderr:\n%s", r.Stderr)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0", "1.1.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))
	e.ok("artifact", "install", "rules:1.0.0")

	bad := e.write("bad.yaml", "- name: ok\n  type: rulesfile\n  registry: r.io\n  repository: a/b\n- name: ok\n  type: plugin\n  registry: r.io\n  repository: a/c\n")
	broken := e.write("broken.yaml", "- name: x\n  type: [oops\n")
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"duplicate name in index", []string{"index", "add", "bad", bad}, 2, []string{"bad", "line 5", "duplicate"}},
		{"malformed index yaml", []string{"index", "add", "broken", broken}, 2, []string{broken, `index "broken"`, "line 2"}},
		{"missing index file", []string{"index", "add", "gone", e.path("nope.yaml")}, 3, []string{"nope.yaml"}},
		{"missing lock file", []string{"artifact", "install", "--locked", "--lock-file", e.path("nope.lock")}, 3, []string{"nope.lock"}},
		{"unknown artifact", []string{"artifact", "install", "rulez:1.x"}, 3, []string{`"rulez"`, "did you mean", "rules"}},
		{"invalid constraint", []string{"artifact", "install", "rules:>>1"}, 2, []string{">>1"}},
		{"invalid reference", []string{"artifact", "install", "Rules!"}, 2, []string{"Rules!"}},
		{"bad digest", []string{"artifact", "install", "rules@sha256:abc"}, 2, []string{"sha256"}},
		{"nothing matches", []string{"artifact", "install", "rules:2.x"}, 3, []string{"2.x", "1.1.0, 1.0.0"}},
		{"missing tag in full reference", []string{"artifact", "install", reg.Host + "/acme/rules/my-rules:9.9.9"}, 3, []string{"9.9.9"}},
		{"unreachable registry", []string{"artifact", "install", "127.0.0.1:1/acme/rules/x:1.0.0"}, 1, []string{"127.0.0.1:1", "hint:"}},
		{"bad flag", []string{"artifact", "install", "--no-such-flag", "rules"}, 2, []string{"no-such-flag"}},
		{"bad output format", []string{"artifact", "list", "-o", "yaml"}, 2, []string{"--output"}},
		{"bad platform", []string{"artifact", "install", "rules", "--platform", "linux"}, 2, []string{"OS/ARCH"}},
		{"push without version", []string{"artifact", "push", reg.Host + "/acme/rules/my-rules", bad, "--type", "rulesfile"}, 2, []string{"--version"}},
		{"push non-semver", []string{"artifact", "push", reg.Host + "/acme/rules/my-rules", bad, "--type", "rulesfile", "--version", "1.0"}, 2, []string{"semver"}},
		{"push not namespaced", []string{"artifact", "push", reg.Host + "/other/thing", bad, "--type", "rulesfile", "--version", "1.0.0", "--source-repo", "https://github.com/acme/rules"}, 2, []string{"acme/rules"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			oneLine(t, e.ferry(c.args...), c.code, c.want...)
		})
	}
	if got := e.read("falco", "my_rules.yaml"); !strings.Contains(got, "version 1.0.0") {
		t.Errorf("installed file changed by failed commands: %q", got)
	}
}

func TestRegistryFaults(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0", "1.1.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))
	e.ok("artifact", "install", "rules:1.0.0")

	t.Run("401", func(t *testing.T) {
		reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return true
		})
		defer reg.SetFault(nil)
		oneLine(t, e.ferry("artifact", "install", "rules:1.x"), 4, "401", "hint: run: ferry registry login "+reg.Host)
	})
	t.Run("403", func(t *testing.T) {
		reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusForbidden)
			return true
		})
		defer reg.SetFault(nil)
		oneLine(t, e.ferry("artifact", "install", "rules:1.x"), 4, "403")
	})
	t.Run("corrupt blob", func(t *testing.T) {
		reg.CorruptBlobs()
		defer reg.SetFault(nil)
		oneLine(t, e.ferry("artifact", "install", "rules:1.x"), 5, "digest")
	})
	t.Run("5xx", func(t *testing.T) {
		reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusBadGateway)
			return true
		})
		defer reg.SetFault(nil)
		oneLine(t, e.ferry("artifact", "install", "rules:1.x"), 1, "502")
	})
	if got := e.read("falco", "my_rules.yaml"); !strings.Contains(got, "version 1.0.0") {
		t.Errorf("previous version not intact: %q", got)
	}
	assertNoLitter(t, e.path("falco"))
	// After the faults are gone, the same command works.
	e.ok("artifact", "install", "rules:1.x")
	if got := e.read("falco", "my_rules.yaml"); !strings.Contains(got, "version 1.1.0") {
		t.Errorf("install after faults: %q", got)
	}
}

// assertNoLitter checks that a consumer of dir sees no temporary files: only
// the hidden staging directory may exist, and it must be empty.
func assertNoLitter(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if en.Name() == ".ferry-staging" {
			left, _ := os.ReadDir(filepath.Join(dir, en.Name()))
			if len(left) > 0 {
				t.Errorf("staging left behind in %s: %v", dir, left)
			}
			continue
		}
		if strings.HasPrefix(en.Name(), ".") || strings.Contains(en.Name(), "tmp") {
			t.Errorf("temporary file visible in %s: %s", dir, en.Name())
		}
	}
}

// hostileLayer builds a tar.gz whose entry escapes the target directory.
func hostileLayer(t *testing.T, name string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	body := []byte("pwned\n")
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write(body)
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

func TestHostileTarball(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "")
	e := newEnv(t)
	for i, name := range []string{"../escape.yaml", "/tmp/abs-" + fmt.Sprint(os.Getpid()) + ".yaml", "a/../../escape2.yaml"} {
		layer := e.write(fmt.Sprintf("hostile%d.tar.gz", i), string(hostileLayer(t, name)))
		repo := fmt.Sprintf("%s/acme/rules/hostile%d", reg.Host, i)
		e.ok("artifact", "push", repo, layer, "--type", "rulesfile", "--version", "1.0.0")
		oneLine(t, e.ferry("artifact", "install", repo+":1.0.0"), 5, "unsafe")
	}
	for _, p := range []string{e.path("escape.yaml"), e.path("escape2.yaml"), "/tmp/abs-" + fmt.Sprint(os.Getpid()) + ".yaml"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s was written", p)
		}
	}
	if _, err := os.Stat(e.path("falco")); err == nil {
		assertNoLitter(t, e.path("falco"))
	}
}
