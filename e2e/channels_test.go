package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
		rec := httptest.NewRecorder()
		reg.Serve(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		ranged := r.Header.Get("Range") != ""
		if (!ranged && rec.Body.Len() <= 4096) || (ranged && !resumes) {
			_, _ = w.Write(rec.Body.Bytes())
			return true
		}
		_, _ = w.Write(rec.Body.Bytes()[:rec.Body.Len()/2])
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
