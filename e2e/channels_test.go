package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2"
	ocilayout "oras.land/oras-go/v2/content/oci"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/internal/testutil"
	"github.com/ferryhq/ferry/pkg/oci"
)

// publishBigRules pushes a rules file large enough (and random enough, so
// gzip keeps it large) that its layer is the one blob over 4 KiB.
func publishBigRules(t *testing.T, e *env, repo, version string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, uint64(len(version))))
	var b strings.Builder
	fmt.Fprintf(&b, "- rule: r\n  desc: version %s\n", version)
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "# %016x%016x\n", rng.Uint64(), rng.Uint64())
	}
	src := e.write("src/my_rules.yaml", b.String())
	e.ok("artifact", "push", repo, src, "--type", "rulesfile", "--version", version)
}

// stallBigBlobs makes reg send half of every blob over 4 KiB (the layer,
// not the config) and then nothing, holding the connection open until the
// client gives up. With resumes too, the Range requests that resume a
// download stall the same way; without, they are served.
func stallBigBlobs(reg *testutil.Registry, resumes bool) {
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
			return false
		}
		a := reg.Answer(r)
		a.WriteHeader(w)
		ranged := r.Header.Get("Range") != ""
		if (!ranged && len(a.Body) <= 4096) || (ranged && !resumes) {
			_, _ = w.Write(a.Body)
			return true
		}
		_, _ = w.Write(a.Body[:len(a.Body)/2])
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
		return true
	})
}

// TestStalledDownload: a registry that stops sending in the middle of the
// layer costs the idle timeout (--idle-timeout, here FERRY_IDLE_TIMEOUT=1s)
// per attempt; the install then comes from the mirror, or fails with a
// clear error leaving the previous version in place.
func TestStalledDownload(t *testing.T) {
	t.Parallel()
	primary := testutil.NewRegistry(t)
	mirror := startRegistry(t, "")
	e := newEnv(t)
	e.vars = append(e.vars, "FERRY_IDLE_TIMEOUT=1s")
	repo := "acme/rules/my-rules"
	for _, v := range []string{"1.0.0", "1.1.0"} {
		publishBigRules(t, e, primary.Host+"/"+repo, v)
		mirrorCopy(t, oci.Location{Registry: primary.Host, Repository: repo}, oci.Location{Registry: mirror.Host, Repository: repo}, v)
	}
	addIndex(t, e, "acme", fmt.Sprintf("- name: rules\n  type: rulesfile\n  registry: %s\n  repository: %s\n", primary.Host, repo))
	addIndex(t, e, "mirrored", fmt.Sprintf(`- name: mirrored-rules
  type: rulesfile
  registry: %s
  repository: %s
  mirrors:
    - registry: %s
      repository: %s
`, primary.Host, repo, mirror.Host, repo))
	e.ok("artifact", "install", "rules:1.0.0")

	// A stall that a Range request resumes: the same channel serves the
	// right bytes.
	stallBigBlobs(primary, false)
	r := e.ok("artifact", "install", "rules:1.x", "--rulesfiles-dir", e.path("resumed"), "--state-dir", e.path("state-resumed"), "-o", "json")
	if !strings.Contains(r.Stdout, `"source": "oci://`+primary.Host+"/"+repo+`"`) || !strings.Contains(e.read("resumed", "my_rules.yaml"), "version 1.1.0") {
		t.Errorf("not resumed from the primary: %s", r.Stdout)
	}
	if n := primary.Count(http.MethodGet, "/blobs/"); n < 3 {
		t.Errorf("%d blob GETs: the stalled download was not resumed", n)
	}

	stallBigBlobs(primary, true)

	// No other channel: a clear error, the previous version intact.
	r = e.ferry("artifact", "install", "rules:1.x")
	oneLine(t, r, 1, "stalled", "1.1.0")
	if got := e.read("falco", "my_rules.yaml"); !strings.Contains(got, "version 1.0.0") {
		t.Errorf("previous version not intact: %.40q", got)
	}
	assertNoLitter(t, e.path("falco"))

	// With a mirror: the layer comes from it, verified.
	r = e.ok("artifact", "install", "mirrored-rules:1.x", "--rulesfiles-dir", e.path("falco2"), "-o", "json")
	if !strings.Contains(r.Stdout, `"source": "oci://`+mirror.Host+"/"+repo+`"`) || !strings.Contains(r.Stdout, `"version": "1.1.0"`) {
		t.Errorf("not served by the mirror after the stall: %s", r.Stdout)
	}
	if got := e.read("falco2", "my_rules.yaml"); !strings.Contains(got, "version 1.1.0") {
		t.Errorf("installed %.40q", got)
	}

	// A bad value is a usage error.
	oneLine(t, e.ferry("artifact", "install", "rules:1.x", "--idle-timeout", "0s"), 2, "--idle-timeout")
}

// rulesTarGz is a rules file layer as ferry artifact push makes it.
func rulesTarGz(t *testing.T, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "my_rules.yaml", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write([]byte(body))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// downRegistry is the address of a registry that refuses connections.
func downRegistry(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	return host
}

// TestHTTPMirrorOnly: the registry is down; versions come from the HTTP
// mirror's SHA256SUMS or its directory listing, and every file is verified
// against a digest unless --allow-unverified says otherwise.
func TestHTTPMirrorOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string][]byte{}
	put := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	publish := func(v string) {
		files[v] = rulesTarGz(t, "- rule: r\n  desc: version "+v+"\n")
		put("my-rules-"+v+".tar.gz", files[v])
	}
	sum := func(v string) string { s := sha256.Sum256(files[v]); return hex.EncodeToString(s[:]) }
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	e := newEnv(t)
	addIndex(t, e, "acme", httpMirrorIndex(t, srv.URL, ""))

	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		publish(v)
	}
	put("SHA256SUMS", []byte(fmt.Sprintf("%s  my-rules-1.0.0.tar.gz\n%s  my-rules-1.1.0.tar.gz\n%s  my-rules-2.0.0.tar.gz\n", sum("1.0.0"), sum("1.1.0"), sum("2.0.0"))))
	r := e.ok("artifact", "install", "rules:1.x", "-o", "json")
	for _, want := range []string{`"version": "1.1.0"`, `"source": "` + srv.URL + `/my-rules-1.1.0.tar.gz"`, `"digest": "sha256:` + sum("1.1.0")} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("install from SHA256SUMS lacks %s:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stderr, "warning") || !strings.Contains(e.read("falco", "my_rules.yaml"), "version 1.1.0") {
		t.Errorf("stderr %q, installed %q", r.Stderr, e.read("falco", "my_rules.yaml"))
	}
	if r = e.ok("artifact", "install", "rules:1.x"); !strings.Contains(r.Stdout, "1.1.0 (rulesfile) is up to date") {
		t.Errorf("reinstall: %s", r.Stdout)
	}

	// No SHA256SUMS: the directory listing names the versions; 1.2.0 has
	// no digest anywhere.
	os.Remove(filepath.Join(dir, "SHA256SUMS"))
	publish("1.2.0")
	oneLine(t, e.ferry("artifact", "install", "rules:1.x"), 5, "my-rules-1.2.0.tar.gz", "no digest", "hint: ", "--allow-unverified")
	if !strings.Contains(e.read("falco", "my_rules.yaml"), "version 1.1.0") {
		t.Errorf("previous version not intact")
	}
	r = e.ok("artifact", "install", "rules:1.x", "--allow-unverified")
	if !strings.Contains(r.Stdout, "Updated acme/rules 1.1.0 → 1.2.0") || !strings.Contains(r.Stdout, "from    "+srv.URL+"/my-rules-1.2.0.tar.gz") ||
		!strings.HasPrefix(r.Stderr, "warning: rules 1.2.0 from "+srv.URL) || !strings.Contains(r.Stderr, "sha256:"+sum("1.2.0")) {
		t.Errorf("unverified install:\nstdout: %s\nstderr: %s", r.Stdout, r.Stderr)
	}

	// A sidecar that does not match: refused, 1.2.0 stays.
	publish("1.3.0")
	put("my-rules-1.3.0.tar.gz.sha256", []byte(sum("1.2.0")+"  my-rules-1.3.0.tar.gz\n"))
	oneLine(t, e.ferry("artifact", "install", "rules:1.x"), 5, "digest", "my-rules-1.3.0.tar.gz.sha256")
	if !strings.Contains(e.read("falco", "my_rules.yaml"), "version 1.2.0") {
		t.Errorf("previous version not intact")
	}
	assertNoLitter(t, e.path("falco"))
	// The right sidecar: verified, no warning.
	put("my-rules-1.3.0.tar.gz.sha256", []byte(sum("1.3.0")+"\n"))
	r = e.ok("artifact", "install", "rules:1.x")
	if r.Stderr != "" || !strings.Contains(e.read("falco", "my_rules.yaml"), "version 1.3.0") {
		t.Errorf("install with a sidecar: %s %s", r.Stdout, r.Stderr)
	}
	// The lock file records the file's digest; a locked install elsewhere
	// is verified against it.
	lock := e.read("state", "ferry.lock")
	if !strings.Contains(lock, "layerDigest: sha256:"+sum("1.3.0")) {
		t.Errorf("lock file:\n%s", lock)
	}
	os.Remove(filepath.Join(dir, "my-rules-1.3.0.tar.gz.sha256"))
	e.ok("artifact", "install", "--locked", "--lock-file", e.path("state", "ferry.lock"), "--state-dir", e.path("state2"), "--rulesfiles-dir", e.path("falco2"))
	if !strings.Contains(e.read("falco2", "my_rules.yaml"), "version 1.3.0") {
		t.Errorf("locked install from the HTTP mirror")
	}
}

// TestOCILayoutReference: oci-layout:PATH[:TAG][@DIGEST] installs from an
// OCI image layout directory or tar (as oras copy --to-oci-layout writes
// it) with no network.
func TestOCILayoutReference(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	loc := oci.Location{Registry: reg.Host, Repository: "acme/rules/my-rules"}
	publishRules(t, e, loc.String(), "1.0.0", "2.0.0")
	dir := e.path("layout")
	store, err := ocilayout.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	hc, _ := ferryhttp.New(ferryhttp.Options{})
	repo, _ := oci.NewClient(oci.ClientOptions{HTTP: hc, PlainHTTP: func(string) bool { return true }}).Repository(loc)
	var first string
	for _, tag := range []string{"1.0.0", "2.0.0"} {
		desc, err := oras.Copy(context.Background(), repo, tag, store, tag, oras.DefaultCopyOptions)
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = desc.Digest.String()
		}
	}
	tarball := e.path("layout.tar")
	tarTree(t, dir, tarball)

	reg.Reset()
	reg.SetFault(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	air := newEnv(t)
	r := air.ok("artifact", "install", "oci-layout:"+dir)
	if !strings.Contains(r.Stdout, "Installed my-rules 2.0.0 (rulesfile)") || !strings.Contains(r.Stdout, "from    oci-layout:"+dir+":2.0.0") ||
		!strings.Contains(air.read("falco", "my_rules.yaml"), "version 2.0.0") {
		t.Errorf("install from the layout directory:\n%s", r.Stdout)
	}
	r = air.ok("artifact", "install", "oci-layout:"+dir+":1.0.0", "-o", "json")
	if !strings.Contains(r.Stdout, `"source": "oci-layout:`+dir+`"`) || !strings.Contains(air.read("falco", "my_rules.yaml"), "version 1.0.0") {
		t.Errorf("install of a tag from the layout:\n%s", r.Stdout)
	}
	air.ok("artifact", "install", "oci-layout:"+tarball+"@"+first, "--rulesfiles-dir", air.path("from-tar"))
	if !strings.Contains(air.read("from-tar", "my_rules.yaml"), "version 1.0.0") {
		t.Errorf("install by digest from the layout tar")
	}
	if r = air.ok("artifact", "info", "oci-layout:"+dir); !strings.Contains(r.Stdout, "2.0.0") {
		t.Errorf("info of a layout reference:\n%s", r.Stdout)
	}
	// verify reads a layout too: every blob hashed, no network.
	r = air.ok("artifact", "verify", "oci-layout:"+tarball+":2.0.0")
	if !strings.Contains(r.Stdout, "ok  blob") {
		t.Errorf("verify of a layout reference:\n%s", r.Stdout)
	}
	wrong := first[:len(first)-1] + map[bool]string{true: "1", false: "0"}[strings.HasSuffix(first, "0")]
	oneLine(t, air.ferry("artifact", "verify", "oci-layout:"+dir+":1.0.0", "--digest", wrong), 5, "expected")
	if n := len(reg.Requests()); n != 0 {
		t.Errorf("installs from a layout made %d registry requests", n)
	}
	oneLine(t, air.ferry("artifact", "install", "oci-layout:"+air.path("nope")), 3, "nope")
	oneLine(t, air.ferry("artifact", "install", "oci-layout:"+dir+":3.0.0"), 3, "3.0.0")
}

// tarTree packs dir into a tar file at path.
func tarTree(t *testing.T, dir, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMirrorCommand: ferry artifact mirror writes what a static file server
// needs to be an HTTP mirror, and an install reads versions and digests
// from it when the registry is down.
func TestMirrorCommand(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishGraph(t, e, reg.Host)
	dir := e.path("mirror")
	r := e.ok("artifact", "mirror", "acme/k8saudit-rules", "-O", dir)
	for _, want := range []string{"Mirrored k8saudit-rules 0.7.0 as k8saudit-rules-0.7.0.tar.gz", "Mirrored k8saudit 0.8.0 as k8saudit-0.8.0-linux-aarch64.tar.gz", "Mirrored k8saudit 0.8.0 as k8saudit-0.8.0-linux-x86_64.tar.gz"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("mirror lacks %q:\n%s", want, r.Stdout)
		}
	}
	e.ok("artifact", "mirror", "acme/k8saudit:0.7.0", "--resolve-deps=false", "-O", dir)
	sums := e.read("mirror", "SHA256SUMS")
	if n := strings.Count(sums, "\n"); n != 5 || !strings.Contains(sums, "  k8saudit-0.7.0-linux-x86_64.tar.gz\n") {
		t.Errorf("SHA256SUMS after two runs:\n%s", sums)
	}

	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	air := newEnv(t)
	addIndex(t, air, "acme", fmt.Sprintf(`- name: k8saudit
  type: plugin
  registry: %[1]s
  repository: acme/plugins/plugin/k8saudit
  mirrors:
    - url: %[2]s/{name}-{version}-{os}-{machine}.{ext}
- name: k8saudit-rules
  type: rulesfile
  registry: %[1]s
  repository: acme/plugins/ruleset/k8saudit-rules
  mirrors:
    - url: %[2]s/{name}-{version}.{ext}
`, downRegistry(t), srv.URL))
	r = air.ok("artifact", "install", "acme/k8saudit:0.x", "acme/k8saudit-rules", "--platform", "linux/arm64")
	if r.Stderr != "" || !strings.Contains(r.Stdout, "Installed acme/k8saudit 0.8.0 (plugin)") || !strings.Contains(r.Stdout, "from    "+srv.URL+"/k8saudit-0.8.0-linux-aarch64.tar.gz") {
		t.Errorf("install from the mirror:\n%s\n%s", r.Stdout, r.Stderr)
	}
	if got := air.read("plugins", "libk8saudit.so"); got != "k8saudit 0.8.0 arm64" {
		t.Errorf("plugin from the mirror: %q", got)
	}
	if !strings.Contains(air.read("falco", "k8saudit_rules.yaml"), "rule: r") {
		t.Errorf("rules from the mirror")
	}
	air.ok("artifact", "install", "acme/k8saudit:0.7.0", "--platform", "linux/amd64", "--plugins-dir", air.path("amd64"), "--state-dir", air.path("state-amd64"))
	if got := air.read("amd64", "libk8saudit.so"); got != "k8saudit 0.7.0 amd64" {
		t.Errorf("plugin from the mirror: %q", got)
	}
}

// An entry with a signature block served only by an HTTP mirror: a file
// carries no signature, so it is refused unless --no-verify.
func TestHTTPMirrorOnlySigned(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := rulesTarGz(t, "- rule: r\n  desc: version 1.0.0\n")
	if err := os.WriteFile(filepath.Join(dir, "my-rules-1.0.0.tar.gz"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(hex.EncodeToString(s[:])+"  my-rules-1.0.0.tar.gz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	e := newEnv(t)
	addIndex(t, e, "acme", httpMirrorIndex(t, srv.URL, `  signature:
    cosign:
      certificate-identity: release@acme.example
      certificate-oidc-issuer: https://token.actions.example
`))
	oneLine(t, e.ferry("artifact", "install", "rules:1.x"), 5, "refusing to install rules 1.0.0: only HTTP mirrors serve it", "hint: ", "--no-verify")
	if _, err := os.Stat(e.path("falco", "my_rules.yaml")); err == nil {
		t.Error("a refused install wrote the file")
	}
	r := e.ok("artifact", "install", "rules:1.x", "--no-verify")
	if !strings.Contains(r.Stderr, "warning: --no-verify: installing rules 1.0.0 (from an HTTP mirror)") || !strings.Contains(e.read("falco", "my_rules.yaml"), "version 1.0.0") {
		t.Errorf("stdout: %s\nstderr: %s", r.Stdout, r.Stderr)
	}
}

// A version no channel has: the primary is down and the HTTP mirror
// answers 404 for its file: not found, exit 3.
func TestHTTPMirrorOnlyMissingVersion(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.FileServer(http.Dir(t.TempDir())))
	t.Cleanup(srv.Close)
	e := newEnv(t)
	addIndex(t, e, "acme", httpMirrorIndex(t, srv.URL, ""))
	oneLine(t, e.ferry("artifact", "install", "rules:9.9.9"), 3, "my-rules-9.9.9.tar.gz")
}

// httpMirrorIndex is an index whose rules live in a registry that is down
// and on the HTTP mirror at base (files my-rules-VERSION.tar.gz); extra
// adds lines to the entry.
func httpMirrorIndex(t *testing.T, base, extra string) string {
	return fmt.Sprintf(`- name: rules
  type: rulesfile
  registry: %s
  repository: acme/rules/my-rules
%s  mirrors:
    - url: %s/my-rules-{version}.{ext}
`, downRegistry(t), extra, base)
}
