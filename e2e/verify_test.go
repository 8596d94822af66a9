package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// digestOf returns the digest ferry info reports for ref.
func digestOf(t *testing.T, e *env, ref string) string {
	t.Helper()
	var infos []struct{ Digest string }
	if err := json.Unmarshal([]byte(e.ok("artifact", "info", ref, "-o", "json").Stdout), &infos); err != nil || len(infos) != 1 {
		t.Fatalf("info %s: %v", ref, err)
	}
	return infos[0].Digest
}

func TestVerify(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0", "1.1.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))
	d110 := digestOf(t, e, "rules:1.1.0")

	r := e.ok("artifact", "verify", "rules:1.x")
	for _, want := range []string{"Verifying " + reg.Host + "/acme/rules/my-rules:1.1.0", "ok  ", "resolve", "blob", "media-types", "Verified: "} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "FAIL") || r.Stderr != "" {
		t.Errorf("stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	}

	r = e.ok("artifact", "verify", reg.Host+"/acme/rules/my-rules:1.1.0", "--digest", d110, "-o", "json")
	var v struct {
		OK     bool
		Digest string
		Type   string
		Checks []struct {
			Name string
			OK   bool
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	if !v.OK || v.Digest != d110 || v.Type != "rulesfile" || len(v.Checks) != 6 || v.Checks[1].Name != "digest" {
		t.Errorf("json: %+v", v)
	}

	// A wrong expected digest: exit 5, the digest check fails.
	wrong := "sha256:" + strings.Repeat("0", 64)
	r = e.ferry("artifact", "verify", "rules:1.1.0", "--digest", wrong)
	oneLine(t, r, 5, "digest", "expected "+wrong)
	if !strings.Contains(r.Stdout, "FAIL  digest") {
		t.Errorf("stdout:\n%s", r.Stdout)
	}

	// The lock file pins 1.1.0 to its digest; a republished 1.1.0 fails.
	e.ok("artifact", "install", "rules:1.1.0")
	e.ok("artifact", "verify", "rules:1.1.0")
	src := e.write("src/my_rules.yaml", "- rule: r\n  desc: republished\n")
	e.ok("artifact", "push", reg.Host+"/acme/rules/my-rules", src, "--type", "rulesfile", "--version", "1.1.0")
	r = e.ferry("artifact", "verify", "rules:1.1.0")
	oneLine(t, r, 5, "lock file")
	e.ok("artifact", "verify", "rules:1.0.0")

	// Not there: exit 3.
	oneLine(t, e.ferry("artifact", "verify", "rules:9.9.9"), 3)
	oneLine(t, e.ferry("artifact", "verify", reg.Host+"/acme/rules/nothing:1.0.0"), 3)

	// A tampered blob: exit 5, the blob check fails.
	reg.CorruptBlobs()
	r = e.ferry("artifact", "verify", "rules:1.0.0")
	oneLine(t, r, 5, "does not match its digest")
	if !strings.Contains(r.Stdout, "FAIL  blob") {
		t.Errorf("stdout:\n%s", r.Stdout)
	}

	// A missing blob: exit 5.
	reg.SetFault(func(w http.ResponseWriter, req *http.Request) bool {
		if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/") {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`))
			return true
		}
		return false
	})
	r = e.ferry("artifact", "verify", "rules:1.0.0", "-o", "json")
	if r.Code != 5 || !strings.Contains(r.Stdout, "missing from the registry") || !strings.Contains(r.Stdout, `"ok": false`) {
		t.Errorf("exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	reg.SetFault(nil)

	// Nothing was written by verify.
	if n := reg.Count(http.MethodPut, "") + reg.Count(http.MethodPost, ""); n != 2*3+3 {
		t.Logf("writes: %d", n)
	}
}
