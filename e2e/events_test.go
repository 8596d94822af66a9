package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testutil"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// receiver is a real CloudEvents HTTP receiver that records what arrives.
type receiver struct {
	mu     sync.Mutex
	events []cloudevents.Event
	srv    *httptest.Server
}

func newReceiver(t *testing.T) *receiver { return newReceiverOn(t, "127.0.0.1:0") }

// newReceiverOn starts a receiver on a given address.
func newReceiverOn(t *testing.T, addr string) *receiver {
	t.Helper()
	rc := &receiver{}
	p, err := cloudevents.NewHTTP()
	if err != nil {
		t.Fatal(err)
	}
	h, err := cloudevents.NewHTTPReceiveHandler(context.Background(), p, func(e cloudevents.Event) {
		rc.mu.Lock()
		rc.events = append(rc.events, e)
		rc.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	rc.srv = httptest.NewUnstartedServer(h)
	rc.srv.Listener.Close()
	rc.srv.Listener = ln
	rc.srv.Start()
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) got() []cloudevents.Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]cloudevents.Event(nil), rc.events...)
}

func TestEvents(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "")
	rc := newReceiver(t)
	e := newEnv(t)
	e.vars = append(e.vars, "FERRY_EVENTS_SINK="+rc.srv.URL, "FERRY_EVENTS_SOURCE=/ferry/e2e")
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0", "1.1.0")
	if n := len(rc.got()); n != 2 {
		t.Fatalf("%d events after two pushes, want 2 artifact.published", n)
	}
	if typ := rc.got()[0].Type(); typ != "dev.cdevents.artifact.published.0.3.0" {
		t.Errorf("push event type %s", typ)
	}
	addIndex(t, e, "acme", rulesIndex(reg.Host))

	e.ok("artifact", "install", "rules:1.x")
	evs := rc.got()
	if len(evs) != 3 {
		t.Fatalf("%d events, want one more after the install", len(evs))
	}
	ev := evs[2]
	if ev.Type() != "dev.cdevents.artifact.downloaded.0.2.0" || ev.Source() != "/ferry/e2e" {
		t.Errorf("download event: type %s source %s", ev.Type(), ev.Source())
	}
	var cd struct {
		Context struct {
			ID, Source, Type string
			Timestamp        time.Time
		}
		Subject struct {
			ID      string
			Content struct{ User string }
		}
		CustomData map[string]any
	}
	if err := json.Unmarshal(ev.Data(), &cd); err != nil {
		t.Fatal(err)
	}
	if cd.Context.ID != ev.ID() || cd.Subject.ID != ev.Subject() || !cd.Context.Timestamp.Equal(ev.Time()) {
		t.Errorf("CloudEvent attributes differ from the CDEvent: %+v vs id %s subject %s time %s", cd.Context, ev.ID(), ev.Subject(), ev.Time())
	}
	if !strings.HasPrefix(cd.Subject.ID, "pkg:oci/my-rules@sha256:") || !strings.Contains(cd.Subject.ID, "%2Facme%2Frules%2Fmy-rules&tag=1.1.0") {
		t.Errorf("subject id %s", cd.Subject.ID)
	}
	if cd.Subject.Content.User == "" || cd.CustomData["version"] != "1.1.0" {
		t.Errorf("user %q, customData %v", cd.Subject.Content.User, cd.CustomData)
	}

	// Nothing downloaded, nothing emitted.
	e.ok("artifact", "install", "rules:1.x")
	if n := len(rc.got()); n != 3 {
		t.Errorf("a no-op install emitted %d events", n-3)
	}

	// The receiver is down (nothing listens on its port): the install
	// succeeds with one warning, and the event waits in the spool.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e.vars = append(withoutVar(e.vars, "FERRY_EVENTS_SINK"), "FERRY_EVENTS_SINK=http://"+addr+"/")
	start := time.Now()
	r := e.ok("artifact", "install", "rules:1.0.0")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("an unreachable sink slowed the install to %v", took)
	}
	if strings.Count(r.Stderr, "warning:") != 1 {
		t.Errorf("want one warning, got:\n%s", r.Stderr)
	}
	if list := e.ok("events", "list", "-o", "json"); !strings.Contains(list.Stdout, addr) || !strings.Contains(list.Stdout, "artifact.downloaded") {
		t.Errorf("events list: %s", list.Stdout)
	}
	// The receiver comes back on the same address: flush delivers the event
	// once, and a second flush has nothing left to send.
	back := newReceiverOn(t, addr)
	e.ok("events", "flush")
	e.ok("events", "flush")
	if got := back.got(); len(got) != 1 || got[0].Type() != "dev.cdevents.artifact.downloaded.0.2.0" {
		t.Errorf("after flush the receiver has %d events", len(got))
	}
	if list := e.ok("events", "list", "-o", "json"); strings.Contains(list.Stdout, addr) {
		t.Errorf("spool not emptied: %s", list.Stdout)
	}
}

// A bundle pulls artifacts from the registry: one artifact.downloaded each.
func TestBundleEmitsDownloaded(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	rc := newReceiver(t)
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))
	e.vars = append(e.vars, "FERRY_EVENTS_SINK="+rc.srv.URL)
	e.ok("artifact", "bundle", "rules:1.x", "-O", e.path("b.tar"))
	evs := rc.got()
	if len(evs) != 1 || evs[0].Type() != "dev.cdevents.artifact.downloaded.0.2.0" || !strings.HasPrefix(evs[0].Subject(), "pkg:oci/my-rules@sha256:") {
		t.Fatalf("events after a bundle: %v", evs)
	}
}
