package mirror_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/internal/http/mirror"
)

const hexA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// serve answers the paths in files and 404 for everything else.
func serve(t *testing.T, files map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func pattern(t *testing.T, u string) *mirror.Pattern {
	t.Helper()
	p, err := mirror.ParsePattern(u)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// SHA256SUMS lists the versions with their digests; names that do not
// match, or whose version is not semver, are left out.
func TestListSums(t *testing.T) {
	u := serve(t, map[string]string{"/r/SHA256SUMS": hexA + "  rules-1.0.0.tar.gz\n" + hexA + "  rules-latest.tar.gz\n" + hexA + "  other-1.0.0.tar.gz\n"})
	got, err := mirror.List(t.Context(), http.DefaultClient, pattern(t, u+"/r/rules-{version}.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]mirror.File{"1.0.0": {Name: "rules-1.0.0.tar.gz", URL: u + "/r/rules-1.0.0.tar.gz", Digest: "sha256:" + hexA, From: u + "/r/SHA256SUMS"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
}

// Without SHA256SUMS the directory index is read, and gives no digests.
func TestListDirectoryIndex(t *testing.T) {
	u := serve(t, map[string]string{"/r/": `<a href="rules-1.0.0.tar.gz">a</a> <a href="rules-1.1.0.tar.gz">b</a> <a href="../">up</a>`})
	got, err := mirror.List(t.Context(), http.DefaultClient, pattern(t, u+"/r/rules-{version}.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]mirror.File{
		"1.0.0": {Name: "rules-1.0.0.tar.gz", URL: u + "/r/rules-1.0.0.tar.gz"},
		"1.1.0": {Name: "rules-1.1.0.tar.gz", URL: u + "/r/rules-1.1.0.tar.gz"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
}

func TestListErrors(t *testing.T) {
	u := serve(t, map[string]string{"/bad/SHA256SUMS": "not a sum\n"})
	if _, err := mirror.List(t.Context(), http.DefaultClient, pattern(t, u+"/bad/rules-{version}.tar.gz")); err == nil || !strings.Contains(err.Error(), "/bad/SHA256SUMS: line 1") {
		t.Errorf("bad SHA256SUMS: %v", err)
	}
	_, err := mirror.List(t.Context(), http.DefaultClient, pattern(t, u+"/none/rules-{version}.tar.gz"))
	if !errors.Is(err, ferryhttp.ErrNotFound) || !strings.Contains(err.Error(), "and the directory index") {
		t.Errorf("no listing at all: %v", err)
	}
	if _, err := mirror.List(t.Context(), nil, pattern(t, u+"/none/rules-{version}.tar.gz")); err == nil {
		t.Error("no client: no error")
	}
}

func TestSidecarAndHead(t *testing.T) {
	u := serve(t, map[string]string{"/f.tgz": "x", "/f.tgz.sha256": strings.ToUpper(hexA) + "  f.tgz\n", "/bad.tgz.sha256": "zz\n"})
	d, from, err := mirror.Sidecar(t.Context(), http.DefaultClient, u+"/f.tgz")
	if err != nil || d != "sha256:"+hexA || from != u+"/f.tgz.sha256" {
		t.Errorf("Sidecar = %q, %q, %v", d, from, err)
	}
	if d, from, err := mirror.Sidecar(t.Context(), http.DefaultClient, u+"/missing.tgz"); d != "" || from != "" || err != nil {
		t.Errorf("no sidecar: %q, %q, %v", d, from, err)
	}
	if _, _, err := mirror.Sidecar(t.Context(), http.DefaultClient, u+"/bad.tgz"); err == nil || !strings.Contains(err.Error(), "bad.tgz.sha256") {
		t.Errorf("bad sidecar: %v", err)
	}
	if err := mirror.Head(t.Context(), http.DefaultClient, u+"/f.tgz"); err != nil {
		t.Errorf("Head of a file: %v", err)
	}
	if err := mirror.Head(t.Context(), http.DefaultClient, u+"/missing.tgz"); !errors.Is(err, ferryhttp.ErrNotFound) {
		t.Errorf("Head of a missing file: %v", err)
	}
}
