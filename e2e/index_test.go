package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// falcoRulesIndex names falco-rules (as the official index does) at repo on
// host.
func falcoRulesIndex(host, repo string) string {
	return fmt.Sprintf("- name: falco-rules\n  type: rulesfile\n  registry: %s\n  repository: %s\n  description: Falco rules\n", host, repo)
}

// completions runs shell completion of the last argument and returns the
// values offered.
func completions(t *testing.T, e *env, args ...string) []string {
	t.Helper()
	r := e.ok(append([]string{"__complete"}, args...)...)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if v, _, _ := strings.Cut(l, "\t"); v != "" && !strings.HasPrefix(v, ":") {
			out = append(out, v)
		}
	}
	return out
}

// A falcoctl config names the official index "falcosecurity", with the
// names the embedded default has: a bare name is that index's, with no
// ambiguity; a second index at the same place changes nothing; one at
// another place makes the name ambiguous, with both INDEX/NAME forms.
func TestIndexPriority(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/falcosecurity/rules/falco-rules", "1.0.0")

	// The real falcoctl index parses with no warning, beside the default.
	official, err := os.ReadFile(filepath.Join("..", "pkg", "index", "testdata", "falcoctl-index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := e.ok("index", "add", "official", e.write("official.yaml", string(official)))
	if r.Stderr != "" {
		t.Errorf("index add of falcoctl's index printed: %s", r.Stderr)
	}
	if got := completions(t, e, "artifact", "install", "k8saudit-r"); !slices.Equal(got, []string{"k8saudit-rules"}) {
		t.Errorf("completion beside the default: %v, want [k8saudit-rules]", got)
	}
	e.ok("index", "remove", "official")

	addIndex(t, e, "falcosecurity", falcoRulesIndex(reg.Host, "falcosecurity/rules/falco-rules"))
	r = e.ok("artifact", "install", "falco-rules:1.0.0")
	if !strings.Contains(r.Stdout, "falco-rules") || !strings.Contains(e.read("falco", "my_rules.yaml"), "version 1.0.0") {
		t.Errorf("install: %s", r.Stdout)
	}
	info := e.ok("artifact", "info", "falco-rules:1.0.0", "-o", "json").Stdout
	var views []struct{ Index, Registry string }
	if err := json.Unmarshal([]byte(info), &views); err != nil || len(views) != 1 || views[0].Index != "falcosecurity" || views[0].Registry != reg.Host {
		t.Errorf("info: %v %s", err, info)
	}
	// The default's entry is still listed, and still reachable qualified.
	list := e.ok("artifact", "list").Stdout
	for _, want := range []string{"falcosecurity  falco-rules", "default        falco-rules"} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q:\n%s", want, list)
		}
	}
	if got := completions(t, e, "artifact", "install", "falco-ru"); !slices.Equal(got, []string{"falco-rules"}) {
		t.Errorf("completion: %v, want [falco-rules]", got)
	}

	addIndex(t, e, "copy", falcoRulesIndex(reg.Host, "falcosecurity/rules/falco-rules"))
	e.ok("artifact", "info", "falco-rules:1.0.0")

	addIndex(t, e, "other", falcoRulesIndex(reg.Host, "acme/falco-rules"))
	oneLine(t, e.ferry("artifact", "info", "falco-rules:1.0.0"), 2,
		"falcosecurity/falco-rules ("+reg.Host+"/falcosecurity/rules/falco-rules)", "other/falco-rules ("+reg.Host+"/acme/falco-rules)")
	e.ok("artifact", "info", "falcosecurity/falco-rules:1.0.0")
	got := completions(t, e, "artifact", "install", "")
	if slices.Contains(got, "falco-rules") || !slices.Contains(got, "other/falco-rules") || !slices.Contains(got, "falcosecurity/falco-rules") {
		t.Errorf("completion of a clash: %v", got)
	}
}

func TestSearchFuzzy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	addIndex(t, e, "acme", `- name: cloudtrail
  type: plugin
  registry: r.example
  repository: acme/plugins/cloudtrail
  description: Read Cloudtrail logs
- name: okta
  type: plugin
  registry: r.example
  repository: acme/plugins/okta
  keywords: [identity]
`)
	type hit struct {
		Index, Name string
		Score       float64
	}
	search := func(args ...string) []hit {
		t.Helper()
		var hits []hit
		out := e.ok(append([]string{"artifact", "search", "-o", "json"}, args...)...).Stdout
		if err := json.Unmarshal([]byte(out), &hits); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return hits
	}
	// A typo finds the name (in both the added index and the default).
	hits := search("cloudtrailz")
	if len(hits) < 2 || hits[0].Name != "cloudtrail" || hits[0].Index != "acme" || hits[0].Score != 0.909 ||
		hits[1].Name != "cloudtrail" || hits[1].Index != "default" {
		t.Errorf("cloudtrailz: %+v", hits)
	}
	// Any keyword matches; the best score first.
	hits = search("nothing-like-it", "identity", "okta")
	if len(hits) == 0 || hits[0] != (hit{"acme", "okta", 1}) {
		t.Errorf("any keyword: %+v", hits)
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score > hits[i-1].Score {
			t.Errorf("not ordered by score: %+v", hits)
		}
	}
	// The text table too.
	if out := e.ok("artifact", "search", "cloudtrailz").Stdout; !strings.Contains(out, "acme     cloudtrail") {
		t.Errorf("text search:\n%s", out)
	}
	oneLine(t, e.ferry("artifact", "search", "cloudtrailz", "--min-score", "0.95"), 3, "no artifact matches")
	oneLine(t, e.ferry("artifact", "search", "x", "--min-score", "0"), 2, "--min-score")
	oneLine(t, e.ferry("artifact", "search", "x", "--min-score", "1.5"), 2, "--min-score")
}

// Index entries that would only fail later are refused at index add, with
// their line, exit 2, and the config is left as it was.
func TestIndexAddRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	entry := func(repo, extra string) string {
		return "- name: ok\n  type: rulesfile\n  registry: r.example\n  repository: acme/ok\n" +
			"- name: x\n  type: rulesfile\n  registry: r.example\n  repository: " + repo + "\n" + extra
	}
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"dot-dot", entry("falcosecurity/rules/../../acme/rules", ""), []string{"line 8", `".." path segment`}},
		{"dot", entry("acme/./rules", ""), []string{"line 8", `"." path segment`}},
		{"empty segment", entry("acme//rules", ""), []string{"line 8", "empty path segment"}},
		{"uppercase", entry("Acme/Rules", ""), []string{"line 8", "uppercase"}},
		{"registry path", strings.Replace(entry("acme/x", ""), "registry: r.example\n  repository: acme/x", "registry: host/path\n  repository: acme/x", 1), []string{"line 7", "without a path"}},
		{"registry scheme", strings.Replace(entry("acme/x", ""), "registry: r.example\n  repository: acme/x", "registry: https://r.example\n  repository: acme/x", 1), []string{"line 7", "without a scheme"}},
		{"source not at the start", entry("attacker/falcosecurity/rules/x", "  source: https://github.com/falcosecurity/rules\n"), []string{"line 9", "does not start with", "falcosecurity/rules"}},
		{"mirror repository", entry("acme/x", "  mirrors:\n    - registry: d.example\n      repository: a/../b\n"), []string{"line 10", "mirror 1", `".." path segment`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			oneLine(t, e.ferry("index", "add", "bad", e.write("bad.yaml", c.yaml)), 2, append(c.want, `index "bad"`)...)
			if strings.Contains(e.ok("index", "list").Stdout, "bad") {
				t.Errorf("a refused index was added")
			}
		})
	}
	// The same entries where they belong are accepted: a source at the
	// start of the path, or under a mirror's declared prefix.
	e.ok("index", "add", "good", e.write("good.yaml", entry("falcosecurity/rules/falco-rules", "  source: https://github.com/falcosecurity/rules\n")+
		"- name: mirrored\n  type: rulesfile\n  registry: r.example\n  repository: proxy/falcosecurity/rules/falco-rules\n"+
		"  source: https://github.com/falcosecurity/rules\n  sourcePrefix: proxy\n"))
}

// The compact form of a cached index: written by index add, used by every
// command after, rebuilt from the YAML when damaged, removed with the index.
func TestIndexCompactCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	addIndex(t, e, "acme", rulesIndex("r.example"))
	idx := e.path("cache", "ferry", "indexes", "acme.idx")
	if _, err := os.Stat(idx); err != nil {
		t.Fatalf("no compact form after index add: %v", err)
	}
	want := e.ok("artifact", "list", "--index", "acme").Stdout
	for _, damage := range []string{"", "FERRYIDX\x01\x00\x00\x00garbage", "not a compact index at all"} {
		if err := os.WriteFile(idx, []byte(damage), 0o644); err != nil {
			t.Fatal(err)
		}
		r := e.ok("artifact", "list", "--index", "acme")
		if r.Stdout != want || r.Stderr != "" {
			t.Errorf("damaged %q: list\n%s\nstderr %s\nwant\n%s", damage, r.Stdout, r.Stderr, want)
		}
		if fi, err := os.Stat(idx); err != nil || fi.Size() <= int64(len(damage)) {
			t.Errorf("damaged %q: not rebuilt (%v)", damage, err)
		}
	}
	e.ok("index", "remove", "acme")
	if _, err := os.Stat(idx); !os.IsNotExist(err) {
		t.Errorf("compact form left after index remove: %v", err)
	}
}

// An index URL answering 401 or 403 is an authorization failure, at index
// add and at index update: exit 4, one error line naming the URL and the
// status; the index already cached stays.
func TestIndexURLUnauthorized(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var refuse atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if code := refuse.Load(); code != 0 {
			w.WriteHeader(int(code))
			return
		}
		_, _ = w.Write([]byte(rulesIndex("registry.example")))
	}))
	t.Cleanup(srv.Close)
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		refuse.Store(int32(code))
		status := fmt.Sprintf("%d %s", code, http.StatusText(code))
		oneLine(t, e.ferry("index", "add", "acme", srv.URL+"/index.yaml"), 4, `index "acme"`, "GET "+srv.URL+"/index.yaml: "+status)
		if strings.Contains(e.ok("index", "list").Stdout, "acme") {
			t.Errorf("%d: a refused index was added", code)
		}
	}
	refuse.Store(0)
	e.ok("index", "add", "acme", srv.URL+"/index.yaml")
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		refuse.Store(int32(code))
		oneLine(t, e.ferry("index", "update", "acme"), 4, "GET "+srv.URL+"/index.yaml: "+fmt.Sprintf("%d %s", code, http.StatusText(code)))
		if !strings.Contains(e.ok("artifact", "list").Stdout, "rules") {
			t.Errorf("%d: the cached index is gone", code)
		}
	}
}
