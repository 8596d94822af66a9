package cli_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// userEnv is an isolated user environment (config, cache, state) for runs
// through cli.Run.
func userEnv(t *testing.T) (map[string]string, string) {
	t.Helper()
	dir := t.TempDir()
	return map[string]string{
		"XDG_CONFIG_HOME":  filepath.Join(dir, "config"),
		"XDG_CACHE_HOME":   filepath.Join(dir, "cache"),
		"FERRY_STATE_DIR":  filepath.Join(dir, "state"),
		"FERRY_PLAIN_HTTP": "true",
	}, dir
}

func mustFerry(t *testing.T, env map[string]string, args ...string) run {
	t.Helper()
	r := ferry(t, env, args...)
	if r.code != 0 {
		t.Fatalf("ferry %v: exit %d\n%s%s", args, r.code, r.out, r.err)
	}
	return r
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// complete asks for completions as the shell scripts do and returns the
// values offered (descriptions dropped) and the directive line.
func complete(t *testing.T, env map[string]string, args ...string) ([]string, string) {
	t.Helper()
	r := ferry(t, env, append([]string{"__complete"}, args...)...)
	if r.code != 0 || strings.Contains(r.err, "error:") {
		t.Fatalf("__complete %v: exit %d: %s", args, r.code, r.err)
	}
	lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
	directive := lines[len(lines)-1]
	var values []string
	for _, l := range lines[:len(lines)-1] {
		v, _, _ := strings.Cut(l, "\t")
		values = append(values, v)
	}
	return values, directive
}

// publishedIndex pushes rules at versions to reg, and adds an index naming
// them as "rules" (and, as a clash, in a second index when other is set).
func publishedIndex(t *testing.T, env map[string]string, dir string, reg *testutil.Registry, versions ...string) {
	t.Helper()
	src := writeFile(t, filepath.Join(dir, "src", "my_rules.yaml"), "- rule: r\n")
	for _, v := range versions {
		mustFerry(t, env, "artifact", "push", reg.Host+"/acme/rules/my-rules", src, "--type", "rulesfile", "--version", v, "--add-floating-tags")
	}
	idx := writeFile(t, filepath.Join(dir, "acme.yaml"), fmt.Sprintf(`- name: rules
  type: rulesfile
  registry: %s
  repository: acme/rules/my-rules
  description: Rules for tests
- name: unreachable
  type: plugin
  registry: 127.0.0.1:1
  repository: acme/plugins/nowhere
`, reg.Host))
	mustFerry(t, env, "index", "add", "acme", idx)
}

func TestCompletion(t *testing.T) {
	reg := testutil.NewRegistry(t)
	env, dir := userEnv(t)
	publishedIndex(t, env, dir, reg, "1.0.0", "1.1.0", "2.0.0-rc.1")

	t.Run("names from the indexes", func(t *testing.T) {
		reg.Reset()
		got, directive := complete(t, env, "artifact", "install", "ru")
		if !slices.Equal(got, []string{"rules"}) || directive != ":4" {
			t.Errorf("got %v %s, want [rules] :4", got, directive)
		}
		got, _ = complete(t, env, "artifact", "info", "")
		for _, want := range []string{"rules", "unreachable", "falco-rules"} {
			if !slices.Contains(got, want) {
				t.Errorf("names lack %q: %v", want, got)
			}
		}
		if n := len(reg.Requests()); n != 0 {
			t.Errorf("name completion made %d registry requests", n)
		}
		got, _ = complete(t, env, "artifact", "install", "acme/")
		if !slices.Equal(got, []string{"acme/rules", "acme/unreachable"}) {
			t.Errorf("INDEX/ completion: %v", got)
		}
	})
	t.Run("versions from the registry, highest first", func(t *testing.T) {
		got, directive := complete(t, env, "artifact", "install", "rules:")
		if want := []string{"rules:2.0.0-rc.1", "rules:1.1.0", "rules:1.0.0"}; !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
		if directive != ":36" {
			t.Errorf("directive %s, want :36 (no files, keep order)", directive)
		}
		got, _ = complete(t, env, "artifact", "lock", "acme/rules:1.")
		if want := []string{"acme/rules:1.1.0", "acme/rules:1.0.0"}; !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("tags of a full reference", func(t *testing.T) {
		ref := reg.Host + "/acme/rules/my-rules"
		got, _ := complete(t, env, "artifact", "verify", ref+":")
		for _, want := range []string{ref + ":1.1.0", ref + ":1", ref + ":1.1"} {
			if !slices.Contains(got, want) {
				t.Errorf("tags lack %q: %v", want, got)
			}
		}
		if got, _ := complete(t, env, "artifact", "verify", "rules", ""); len(got) != 0 {
			t.Errorf("verify takes one reference, offered a second: %v", got)
		}
	})
	t.Run("unreachable registry gives no versions and no error", func(t *testing.T) {
		if got, _ := complete(t, env, "artifact", "install", "unreachable:"); len(got) != 0 {
			t.Errorf("got %v", got)
		}
	})
	t.Run("a registry that never answers is given up on", func(t *testing.T) {
		release := make(chan struct{})
		reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return true
		})
		t.Cleanup(func() { reg.SetFault(nil) })
		defer close(release)
		if got, _ := complete(t, env, "artifact", "install", "rules:"); len(got) != 0 {
			t.Errorf("got %v", got)
		}
	})
	t.Run("names that clash are qualified", func(t *testing.T) {
		other := writeFile(t, filepath.Join(dir, "other.yaml"), "- name: rules\n  type: rulesfile\n  registry: example.com\n  repository: other/rules\n")
		mustFerry(t, env, "index", "add", "other", other)
		got, _ := complete(t, env, "artifact", "install", "")
		if !slices.Contains(got, "acme/rules") || !slices.Contains(got, "other/rules") || slices.Contains(got, "rules") {
			t.Errorf("clashing names: %v", got)
		}
		got, _ = complete(t, env, "index", "remove", "")
		if !slices.Equal(got, []string{"acme", "other"}) {
			t.Errorf("index names: %v", got)
		}
		if got, _ := complete(t, env, "index", "remove", "acme", ""); !slices.Equal(got, []string{"other"}) {
			t.Errorf("index names after acme: %v", got)
		}
	})
	t.Run("--config on the command line is honoured", func(t *testing.T) {
		empty := writeFile(t, filepath.Join(dir, "empty.yaml"), "")
		got, _ := complete(t, env, "--config", empty, "artifact", "install", "")
		if slices.Contains(got, "acme/rules") || !slices.Contains(got, "falco-rules") {
			t.Errorf("with an empty config: %v", got)
		}
	})
}

func TestFlagCompletion(t *testing.T) {
	env, _ := userEnv(t)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"artifact", "list", "--type", ""}, []string{"rulesfile", "plugin", "asset"}},
		{[]string{"artifact", "push", "--type", ""}, []string{"rulesfile", "plugin", "asset"}},
		{[]string{"driver", "install", "--type", ""}, []string{"kmod", "ebpf", "modern_ebpf", "auto"}},
		{[]string{"index", "list", "-o", ""}, []string{"text", "json"}},
		{[]string{"version", "-o", ""}, []string{"text", "json", "yaml"}},
		{[]string{"artifact", "list", "--index", ""}, []string{"default"}},
	} {
		got, _ := complete(t, env, c.args...)
		if !slices.Equal(got, c.want) {
			t.Errorf("%v: got %v, want %v", c.args, got, c.want)
		}
	}
	got, _ := complete(t, env, "artifact", "install", "--platform", "")
	if !slices.Contains(got, "linux/amd64") || !slices.Contains(got, "linux/arm64") {
		t.Errorf("--platform: %v", got)
	}
}
