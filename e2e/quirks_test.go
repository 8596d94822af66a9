package e2e

import (
	"net/http"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// noHEAD makes reg answer 405 to every HEAD, as some CDNs in front of
// registries do; GETs reach the real registry.
func noHEAD(reg *testutil.Registry) {
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodHead {
			return false
		}
		w.WriteHeader(http.StatusMethodNotAllowed)
		return true
	})
}

func TestPromoteWithoutHEAD(t *testing.T) {
	srcReg, dstReg := testutil.NewRegistry(t), testutil.NewRegistry(t)
	e := newEnv(t)
	src := srcReg.Host + "/staging/rules/my-rules"
	dst := dstReg.Host + "/prod/rules/my-rules"
	publishRules(t, e, src, "1.0.0")
	d := digestOf(t, e, src+":1.0.0")
	noHEAD(srcReg)
	noHEAD(dstReg)

	e.ok("artifact", "promote", src+":1.0.0", dst, "--add-floating-tags")
	// Twice: the second run finds everything present through GET.
	e.ok("artifact", "promote", src+":1.0.0", dst, "--add-floating-tags")
	if n := dstReg.Count(http.MethodHead, ""); n == 0 {
		t.Errorf("no HEAD reached the destination: the test proves nothing")
	}
	srcReg.SetFault(nil)
	dstReg.SetFault(nil)
	for _, tag := range []string{"1.0.0", "1.0", "1"} {
		if got := digestOf(t, e, dst+":"+tag); got != d {
			t.Errorf("dst %s is %s, want %s", tag, got, d)
		}
	}
}
