package install_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// httpMirrorFixture is a registry that is down and a static file server
// (net/http's FileServer, with its directory listings) as the HTTP mirror.
type httpMirrorFixture struct {
	*fixture
	dir   string // the file server's root
	srv   *httptest.Server
	files map[string][]byte // version → file
	entry index.Entry
}

func newHTTPMirrorFixture(t *testing.T, versions ...string) *httpMirrorFixture {
	t.Helper()
	f := newFixture(t)
	hc, err := ferryhttp.New(ferryhttp.Options{NoRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	f.client = oci.NewClient(oci.ClientOptions{HTTP: hc, PlainHTTP: func(string) bool { return true }})
	hf := &httpMirrorFixture{fixture: f, dir: t.TempDir(), files: map[string][]byte{}}
	if err := os.MkdirAll(filepath.Join(hf.dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		hf.files[v] = tarGz(t, map[string]string{"my_rules.yaml": "- rule: version " + v + "\n"}, false)
		hf.put(t, "rules/my-rules-"+v+".tar.gz", hf.files[v])
	}
	hf.srv = httptest.NewServer(http.FileServer(http.Dir(hf.dir)))
	t.Cleanup(hf.srv.Close)
	f.reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	hf.entry = index.Entry{Name: "my-rules", Type: "rulesfile", Registry: f.reg.Host, Repository: "acme/rules/my-rules",
		Mirrors: []index.Mirror{{URL: hf.srv.URL + "/rules/{name}-{version}.{ext}"}}}
	return hf
}

func (hf *httpMirrorFixture) put(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(hf.dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (hf *httpMirrorFixture) sum(v string) string {
	s := sha256.Sum256(hf.files[v])
	return hex.EncodeToString(s[:])
}

func (hf *httpMirrorFixture) install(t *testing.T, allowUnverified bool, refs ...string) ([]install.Result, error) {
	t.Helper()
	hc, err := ferryhttp.New(ferryhttp.Options{NoRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	in := hf.installer([]index.Entry{hf.entry}, "linux/amd64")
	in.HTTP, in.AllowUnverified = hc, allowUnverified
	return in.Install(context.Background(), install.Request{Refs: refs, LockPath: filepath.Join(hf.state, "ferry.lock")})
}

func (hf *httpMirrorFixture) installed(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(hf.dirs[oci.TypeRulesfile], "my_rules.yaml"))
	if err != nil {
		return ""
	}
	return string(data)
}

func TestHTTPMirrorOnlySHA256SUMS(t *testing.T) {
	hf := newHTTPMirrorFixture(t, "1.0.0", "1.1.0", "2.0.0")
	hf.put(t, "rules/SHA256SUMS", []byte(fmt.Sprintf("%s  my-rules-1.0.0.tar.gz\n%s *my-rules-1.1.0.tar.gz\n%s  other-1.5.0.tar.gz\n",
		hf.sum("1.0.0"), hf.sum("1.1.0"), hf.sum("2.0.0"))))
	results, err := hf.install(t, false, "my-rules:1.x")
	if err != nil {
		t.Fatal(err)
	}
	r := results[0]
	if r.Version != "1.1.0" || r.Source != hf.srv.URL+"/rules/my-rules-1.1.0.tar.gz" || r.Digest != "sha256:"+hf.sum("1.1.0") || r.Unverified {
		t.Errorf("result %+v", r)
	}
	if got := hf.installed(t); got != "- rule: version 1.1.0\n" {
		t.Errorf("installed %q", got)
	}
	lock, err := install.ReadLock(filepath.Join(hf.state, "ferry.lock"))
	if err != nil || lock.Artifacts[0].LayerDigest != r.Digest {
		t.Errorf("lock %+v, %v", lock, err)
	}
	// Again: up to date, nothing downloaded.
	results, err = hf.install(t, false, "my-rules:1.x")
	if err != nil || results[0].Status != install.StatusUpToDate {
		t.Errorf("reinstall: %+v, %v", results, err)
	}
}

func TestHTTPMirrorOnlyDirectoryIndex(t *testing.T) {
	hf := newHTTPMirrorFixture(t, "1.0.0", "1.1.0")

	// No digest anywhere: refused, nothing installed.
	_, err := hf.install(t, false, "my-rules")
	if !errors.Is(err, install.ErrUnverified) || hf.installed(t) != "" {
		t.Fatalf("want ErrUnverified and nothing installed, got %v, %q", err, hf.installed(t))
	}

	// Allowed: installed, reported unverified, with the digest it hashed to.
	results, err := hf.install(t, true, "my-rules:1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; !r.Unverified || r.Digest != "sha256:"+hf.sum("1.0.0") || hf.installed(t) != "- rule: version 1.0.0\n" {
		t.Errorf("result %+v, installed %q", r, hf.installed(t))
	}

	// A sidecar verifies 1.1.0.
	hf.put(t, "rules/my-rules-1.1.0.tar.gz.sha256", []byte(hf.sum("1.1.0")+"  my-rules-1.1.0.tar.gz\n"))
	results, err = hf.install(t, false, "my-rules")
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; r.Unverified || r.Version != "1.1.0" || r.PreviousVersion != "1.0.0" || hf.installed(t) != "- rule: version 1.1.0\n" {
		t.Errorf("result %+v, installed %q", r, hf.installed(t))
	}
}

func TestHTTPMirrorSidecarMismatchKeepsPrevious(t *testing.T) {
	hf := newHTTPMirrorFixture(t, "1.0.0", "1.1.0")
	hf.put(t, "rules/my-rules-1.0.0.tar.gz.sha256", []byte(hf.sum("1.0.0")+"\n"))
	if _, err := hf.install(t, false, "my-rules:1.0.0"); err != nil {
		t.Fatal(err)
	}
	hf.put(t, "rules/my-rules-1.1.0.tar.gz.sha256", []byte(hf.sum("1.0.0")+"\n")) // the wrong file's
	_, err := hf.install(t, false, "my-rules:1.x")
	if !errors.Is(err, oci.ErrDigestMismatch) {
		t.Fatalf("want a digest mismatch, got %v", err)
	}
	if got := hf.installed(t); got != "- rule: version 1.0.0\n" {
		t.Errorf("the previous version is not intact: %q", got)
	}
	entries, _ := os.ReadDir(hf.dirs[oci.TypeRulesfile])
	for _, e := range entries {
		if e.Name() != "my_rules.yaml" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestHTTPMirrorIndexPin(t *testing.T) {
	hf := newHTTPMirrorFixture(t, "1.0.0")
	hf.entry.Mirrors[0].Digests = map[string]string{"my-rules-1.0.0.tar.gz": "sha256:" + hf.sum("1.0.0")}
	results, err := hf.install(t, false, "my-rules")
	if err != nil || results[0].Unverified {
		t.Fatalf("%+v, %v", results, err)
	}
	// A pin that does not match the file is a verification failure.
	hf.entry.Mirrors[0].Digests["my-rules-1.0.0.tar.gz"] = "sha256:" + strings.Repeat("0", 64)
	os.RemoveAll(hf.state)
	if _, err := hf.install(t, false, "my-rules"); !errors.Is(err, oci.ErrDigestMismatch) {
		t.Errorf("want a digest mismatch, got %v", err)
	}
}

func TestHTTPMirrorLockedInstall(t *testing.T) {
	hf := newHTTPMirrorFixture(t, "1.0.0")
	hf.put(t, "rules/SHA256SUMS", []byte(hf.sum("1.0.0")+"  my-rules-1.0.0.tar.gz\n"))
	if _, err := hf.install(t, false, "my-rules"); err != nil {
		t.Fatal(err)
	}
	lock, err := install.ReadLock(filepath.Join(hf.state, "ferry.lock"))
	if err != nil {
		t.Fatal(err)
	}
	// Elsewhere, with only the lock file: the SHA256SUMS is gone, the lock
	// pins the file.
	os.Remove(filepath.Join(hf.dir, "rules", "SHA256SUMS"))
	hf.state = filepath.Join(t.TempDir(), "state")
	hf.dirs[oci.TypeRulesfile] = filepath.Join(t.TempDir(), "rules")
	hc, _ := ferryhttp.New(ferryhttp.Options{NoRetry: true})
	in := hf.installer([]index.Entry{hf.entry}, "linux/amd64")
	in.HTTP = hc
	results, err := in.Install(context.Background(), install.Request{Locked: lock})
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; r.Unverified || r.Digest != "sha256:"+hf.sum("1.0.0") || hf.installed(t) != "- rule: version 1.0.0\n" {
		t.Errorf("result %+v", r)
	}
	// The file changed on the mirror: the lock refuses it.
	hf.put(t, "rules/my-rules-1.0.0.tar.gz", tarGz(t, map[string]string{"my_rules.yaml": "- rule: evil\n"}, false))
	hf.state = filepath.Join(t.TempDir(), "state")
	in.Store = &install.Store{StateDir: hf.state}
	if _, err := in.Install(context.Background(), install.Request{Locked: lock}); !errors.Is(err, oci.ErrDigestMismatch) {
		t.Errorf("want a digest mismatch, got %v", err)
	}
}

func TestHTTPMirrorExactVersionNeedsNoListing(t *testing.T) {
	hf := newHTTPMirrorFixture(t, "1.0.0")
	// The server has neither a SHA256SUMS nor a directory index, as an
	// object store.
	hf.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || strings.HasSuffix(r.URL.Path, "/SHA256SUMS") {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		http.FileServer(http.Dir(hf.dir)).ServeHTTP(w, r)
	})
	if _, err := hf.install(t, false, "my-rules:1.x"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a range needs a listing: %v", err)
	}
	results, err := hf.install(t, true, "my-rules:1.0.0")
	if err != nil || !results[0].Unverified || hf.installed(t) != "- rule: version 1.0.0\n" {
		t.Fatalf("%+v, %v", results, err)
	}
	// The lock file now pins it: verified from here on.
	os.RemoveAll(hf.dirs[oci.TypeRulesfile])
	results, err = hf.install(t, false, "my-rules:1.0.0")
	if err != nil || results[0].Unverified || results[0].Status != install.StatusInstalled {
		t.Fatalf("%+v, %v", results, err)
	}
}

// The failures of an HTTP mirror download speak errdef's vocabulary as the
// OCI path does: a digest mismatch is errdef.ErrDigestMismatch (and
// oci.ErrDigestMismatch), an unsafe archive errdef.ErrUnsafeArchive; both
// are verification failures (exit code 5), and leave nothing installed.
func TestHTTPMirrorFailuresSpeakErrdef(t *testing.T) {
	hf := newHTTPMirrorFixture(t, "1.0.0")
	hf.put(t, "rules/my-rules-1.0.0.tar.gz.sha256", []byte(strings.Repeat("0", 64)+"\n"))
	_, err := hf.install(t, false, "my-rules:1.0.0")
	for _, target := range []error{errdef.ErrDigestMismatch, errdef.ErrVerification, oci.ErrDigestMismatch} {
		if !errors.Is(err, target) {
			t.Errorf("digest mismatch %v does not match %q", err, target)
		}
	}
	if errors.Is(err, errdef.ErrUnsafeArchive) || errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("digest mismatch %v matches another kind", err)
	}

	bad := tarGz(t, map[string]string{"../escape.yaml": "- rule: out\n"}, false)
	hf.put(t, "rules/my-rules-1.0.0.tar.gz", bad)
	sum := sha256.Sum256(bad)
	hf.put(t, "rules/my-rules-1.0.0.tar.gz.sha256", []byte(hex.EncodeToString(sum[:])+"\n"))
	_, err = hf.install(t, false, "my-rules:1.0.0")
	for _, target := range []error{errdef.ErrUnsafeArchive, errdef.ErrVerification, install.ErrUnsafeArchive} {
		if !errors.Is(err, target) {
			t.Errorf("unsafe archive %v does not match %q", err, target)
		}
	}
	if errors.Is(err, errdef.ErrDigestMismatch) {
		t.Errorf("unsafe archive %v matches a digest mismatch", err)
	}
	if got := hf.installed(t); got != "" {
		t.Errorf("installed %q after the failures", got)
	}
}

// An HTTP mirror file over the size limit is refused as an artifact over
// the limit from a registry is: an unsafe archive (exit code 5), with a
// message of the same shape, and nothing installed.
func TestHTTPMirrorOverMaxSize(t *testing.T) {
	// 4000 bytes that do not compress below the limit.
	var body strings.Builder
	for s := sha256.Sum256([]byte("seed")); body.Len() < 4000; s = sha256.Sum256(s[:]) {
		body.WriteString(hex.EncodeToString(s[:]))
	}
	layer := tarGz(t, map[string]string{"my_rules.yaml": body.String()}, false)
	limits := install.Limits{MaxBytes: 1000}
	if len(layer) <= int(limits.MaxBytes) {
		t.Fatalf("the layer is %d bytes, not over the limit", len(layer))
	}
	check := func(what string, err error, want ...string) {
		t.Helper()
		for _, target := range []error{install.ErrUnsafeArchive, errdef.ErrUnsafeArchive, errdef.ErrVerification} {
			if !errors.Is(err, target) {
				t.Errorf("%s: %v does not match %q", what, err, target)
			}
		}
		for _, target := range []error{errdef.ErrDigestMismatch, errdef.ErrNotFound, errdef.ErrUnauthorized} {
			if errors.Is(err, target) {
				t.Errorf("%s: %v matches %q", what, err, target)
			}
		}
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v lacks %q", what, err, w)
			}
		}
	}

	hf := newHTTPMirrorFixture(t)
	hf.files["1.0.0"] = layer
	hf.put(t, "rules/my-rules-1.0.0.tar.gz", layer)
	hf.put(t, "rules/my-rules-1.0.0.tar.gz.sha256", []byte(hf.sum("1.0.0")+"\n"))
	fileURL := hf.srv.URL + "/rules/my-rules-1.0.0.tar.gz"
	hc, err := ferryhttp.New(ferryhttp.Options{NoRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	in := hf.installer([]index.Entry{hf.entry}, "linux/amd64")
	in.HTTP, in.Store.Limits = hc, limits
	_, err = in.Install(context.Background(), install.Request{Refs: []string{"my-rules:1.0.0"}})
	check("HTTP mirror", err, "unpacking my-rules 1.0.0 from "+fileURL+": unsafe archive: ",
		fmt.Sprintf("size %d exceeds the limit of 1000 bytes", len(layer)))
	if got := hf.installed(t); got != "" {
		t.Errorf("installed %q over the limit", got)
	}

	// The same artifact from a registry.
	f := newFixture(t)
	loc := oci.Location{Registry: f.reg.Host, Repository: "acme/rules/my-rules"}
	pushFalcoctlStyle(t, f.client, loc, oci.TypeRulesfile, "1.0.0", map[string][]byte{"": layer})
	in = f.installer([]index.Entry{{Name: "my-rules", Type: "rulesfile", Registry: loc.Registry, Repository: loc.Repository}}, "linux/amd64")
	in.Store.Limits = limits
	_, err = in.Install(context.Background(), install.Request{Refs: []string{"my-rules:1.0.0"}})
	check("registry", err, "unpacking my-rules 1.0.0: unsafe archive entry ", "exceeds the remaining limit of 1000 bytes")
}

// An HTTP mirror answering 401 or 403 is an authorization failure (exit
// code 4), as a registry's is, whether it refuses the listing, the
// checksum or the file.
func TestHTTPMirrorUnauthorized(t *testing.T) {
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		hf := newHTTPMirrorFixture(t, "1.0.0", "1.1.0")
		refuse := ""
		refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, refuse) {
				w.WriteHeader(code)
				return
			}
			hf.srv.Config.Handler.ServeHTTP(w, r)
		}))
		t.Cleanup(refusing.Close)
		hf.entry.Mirrors[0].URL = refusing.URL + "/rules/{name}-{version}.{ext}"
		hf.put(t, "rules/my-rules-1.0.0.tar.gz.sha256", []byte(hf.sum("1.0.0")+"\n"))
		for _, c := range []struct{ refuse, ref string }{
			{"/" + install.SumsFile, "my-rules:1.x"},
			{".sha256", "my-rules:1.0.0"},
			{".tar.gz", "my-rules:1.0.0"},
			// No digest anywhere: refused for the 401, not for that.
			{".tar.gz", "my-rules:1.1.0"},
		} {
			refuse = c.refuse
			_, err := hf.install(t, false, c.ref)
			if !errors.Is(err, errdef.ErrUnauthorized) || errors.Is(err, errdef.ErrNotFound) || errors.Is(err, errdef.ErrVerification) {
				t.Errorf("%d on %s: %v is not only unauthorized", code, c.refuse, err)
			}
			if want := fmt.Sprintf("%s: %d %s", c.refuse, code, http.StatusText(code)); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%d on %s: %v lacks %q", code, c.refuse, err, want)
			}
		}
		if got := hf.installed(t); got != "" {
			t.Errorf("installed %q", got)
		}
	}
}
