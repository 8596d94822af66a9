package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

func TestPromote(t *testing.T) {
	t.Parallel()
	srcReg, dstReg := testutil.NewRegistry(t), testutil.NewRegistry(t)
	rc := newReceiver(t)
	e := newEnv(t)
	src := srcReg.Host + "/staging/rules/my-rules"
	dst := dstReg.Host + "/prod/rules/my-rules"
	publishRules(t, e, src, "1.0.0", "1.1.0")
	publishRules(t, e, dst, "2.0.0")
	d110 := digestOf(t, e, src+":1.1.0")

	r := e.ok("artifact", "promote", src+":1.1.0", dst, "--add-floating-tags", "--digest", d110, "--events-sink", rc.srv.URL)
	for _, want := range []string{"Verified: ", "Promoted " + src + ":1.1.0 to " + dst, d110, "1.1.0, 1.1, 1"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.Stdout)
		}
	}
	if got := digestOf(t, e, dst+":1.1.0"); got != d110 {
		t.Errorf("dst 1.1.0 is %s, want %s", got, d110)
	}
	if got := digestOf(t, e, dst+":1"); got != d110 {
		t.Errorf("dst 1 is %s", got)
	}
	if got := digestOf(t, e, dst+":2"); got == d110 {
		t.Errorf("floating tag 2 moved back to 1.1.0")
	}
	evs := rc.got()
	if len(evs) != 1 || evs[0].Type() != "dev.cdevents.artifact.published.0.3.0" || !strings.Contains(evs[0].Subject(), "repository_url="+dstReg.Host+"%2Fprod") {
		var subj []string
		for _, ev := range evs {
			subj = append(subj, ev.Type()+" "+ev.Subject())
		}
		t.Errorf("events: %v", subj)
	}

	// Again: nothing copied, nothing written, no event.
	dstReg.Reset()
	r = e.ok("artifact", "promote", src+":1.1.0", dst, "--add-floating-tags", "--events-sink", rc.srv.URL, "-o", "json")
	var v struct {
		Source struct{ OK bool }
		Copied []string
		Tags   []string
	}
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	if !v.Source.OK || len(v.Copied) != 0 || len(v.Tags) != 3 {
		t.Errorf("second promote: %+v", v)
	}
	if n := dstReg.Count(http.MethodPut, "") + dstReg.Count(http.MethodPost, "") + dstReg.Count(http.MethodPatch, ""); n != 0 {
		t.Errorf("second promote wrote %d times", n)
	}
	if len(rc.got()) != 1 {
		t.Errorf("an idempotent promote emitted an event")
	}

	// A failed verification copies nothing (exit 5); a missing source exits 3.
	other := dstReg.Host + "/prod/rules/other"
	r = e.ferry("artifact", "promote", src+":1.0.0", other, "--digest", d110)
	oneLine(t, r, 5, "not promoting")
	if r := e.ferry("artifact", "info", other+":1.0.0"); r.Code != 3 {
		t.Errorf("the failed promote created %s: exit %d", other, r.Code)
	}
	srcReg.CorruptBlobs()
	oneLine(t, e.ferry("artifact", "promote", src+":1.0.0", other), 5, "not promoting")
	srcReg.SetFault(nil)
	oneLine(t, e.ferry("artifact", "promote", src+":7.0.0", other), 3)

	// By digest, to a destination tag.
	e.ok("artifact", "promote", src+"@"+d110, other+":1.1.0")
	if got := digestOf(t, e, other+":1.1.0"); got != d110 {
		t.Errorf("other 1.1.0 is %s", got)
	}
}
