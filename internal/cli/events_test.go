package cli_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/protocol"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/opencontainers/go-digest"

	"github.com/ferryhq/ferry/pkg/events"
)

// ceReceiver is a CloudEvents HTTP receiver (the sdk's handler) on
// loopback that records events and the Authorization header.
type ceReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	ids  []string
	auth []string
}

type authKey struct{}

func newCEReceiver(t *testing.T) *ceReceiver {
	t.Helper()
	r := &ceReceiver{}
	p, err := cehttp.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h, err := cloudevents.NewHTTPReceiveHandler(ctx, p, func(ctx context.Context, ev cloudevents.Event) protocol.Result {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.ids = append(r.ids, ev.ID())
		a, _ := ctx.Value(authKey{}).(string)
		r.auth = append(r.auth, a)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), authKey{}, req.Header.Get("Authorization"))))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *ceReceiver) URL() string { return r.srv.URL + "/events" }

func (r *ceReceiver) received() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...), append([]string(nil), r.auth...)
}

// deadURL is a loopback URL nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/events"
	srv.Close()
	return u
}

// spoolEvents emits n events for each of sinks while they are down, into
// stateDir's spool, as an install would.
func spoolEvents(t *testing.T, stateDir string, n int, sinks ...string) {
	t.Helper()
	cfg := events.Config{SpoolDir: filepath.Join(stateDir, "events", "spool"), Timeout: time.Second}
	for _, s := range sinks {
		cfg.Sinks = append(cfg.Sinks, events.Sink{URL: s, Headers: map[string]string{"Authorization": "Bearer ${EVENTS_TOKEN}"}})
	}
	cfg.Getenv = func(string) string { return "unused" }
	e, err := events.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		a := events.Artifact{Name: "rules", Registry: "127.0.0.1:5000", Repository: "falcosecurity/rules/demo-rules", Tag: "1.1.0",
			Digest: digest.FromString(string(rune('a' + i))).String()}
		if _, err := e.Downloaded(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
}

type spooledJSON struct {
	ID, Type, Source, Subject, Sink, Path, LastError string
	Attempts                                         int
	Time, SpooledAt                                  time.Time
}

func TestEventsListAndFlush(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": home, "XDG_CACHE_HOME": home}
	state := filepath.Join(t.TempDir(), "state")

	r := ferry(t, env, "events", "list", "--state-dir", state, "-o", "json")
	if r.code != 0 || strings.TrimSpace(r.out) != "[]" {
		t.Fatalf("empty list: exit %d: %q %s", r.code, r.out, r.err)
	}
	if r := ferry(t, env, "events", "list", "--state-dir", state); r.code != 0 || !strings.Contains(r.out, "No events waiting") {
		t.Errorf("empty list, text: %q", r.out)
	}

	dead := deadURL(t)
	spoolEvents(t, state, 3, dead)

	r = ferry(t, env, "events", "list", "--state-dir", state, "-o", "json")
	var list []spooledJSON
	if err := json.Unmarshal([]byte(r.out), &list); err != nil || r.code != 0 {
		t.Fatalf("list -o json: exit %d, %v: %s %s", r.code, err, r.out, r.err)
	}
	if len(list) != 3 {
		t.Fatalf("%d entries, want 3", len(list))
	}
	for i, s := range list {
		if s.Sink != dead || s.Type != "dev.cdevents.artifact.downloaded.0.2.0" || !strings.HasPrefix(s.Subject, "pkg:oci/demo-rules@sha256:") ||
			s.ID == "" || !strings.HasPrefix(s.Path, state) {
			t.Errorf("entry %d: %+v", i, s)
		}
		// Only the first event was attempted; the sink was then down for
		// the run and the others went straight to the spool.
		if wantAttempts := map[bool]int{true: 1, false: 0}[i == 0]; s.Attempts != wantAttempts || (i == 0) != strings.Contains(s.LastError, "refused") {
			t.Errorf("entry %d: attempts %d, last error %q", i, s.Attempts, s.LastError)
		}
		if i > 0 && s.Time.Before(list[i-1].Time) {
			t.Errorf("entry %d is older than the one before", i)
		}
	}
	r = ferry(t, env, "events", "list", "--state-dir", state)
	if r.code != 0 || !strings.Contains(r.out, "TIME") || !strings.Contains(r.out, "artifact.downloaded.0.2.0") || strings.Count(r.out, "\n") != 4 {
		t.Errorf("list, text:\n%s", r.out)
	}

	// The sink is still down: exit 1, a warning, nothing lost.
	r = ferry(t, env, "events", "flush", "--state-dir", state)
	if r.code != 1 || !strings.Contains(r.err, "warning: events: "+dead) || !strings.Contains(r.out, "Delivered 0 event(s); 3 waiting") {
		t.Errorf("flush to a down sink: exit %d\n%s%s", r.code, r.out, r.err)
	}

	// The receiver moved: the spooled entries name the old URL, so point a
	// fresh spool at a live receiver instead.
	live := newCEReceiver(t)
	state2 := filepath.Join(t.TempDir(), "state")
	spoolEvents(t, state2, 2, dead, live.URL()) // live is up: its events go through, dead's are spooled
	if ids, _ := live.received(); len(ids) != 2 {
		t.Fatalf("live receiver got %d events", len(ids))
	}
	// Only dead's entries remain; flushing live's sink finds none.
	r = ferry(t, env, "events", "flush", "--state-dir", state2, "--events-sink", live.URL(), "-o", "json")
	var fv struct {
		Delivered, Remaining int
		SpoolDir             string
		Warnings             []string
	}
	if err := json.Unmarshal([]byte(r.out), &fv); err != nil || r.code != 0 || fv.Delivered != 0 || fv.Remaining != 0 || fv.Warnings == nil {
		t.Errorf("flush of a sink with nothing spooled: exit %d %+v %v\n%s", r.code, fv, err, r.err)
	}
}

func TestEventsFlushDeliversWithConfiguredHeaders(t *testing.T) {
	home := t.TempDir()
	state := filepath.Join(t.TempDir(), "state")
	live := newCEReceiver(t)
	// Spool events for the receiver's URL while it is down: stop it, spool,
	// start a new server on the same address.
	addr := live.srv.Listener.Addr().String()
	live.srv.Close()
	spoolEvents(t, state, 2, live.URL())
	l, err := netListen(addr)
	if err != nil {
		t.Skipf("cannot listen again on %s: %v", addr, err)
	}
	live.srv = httptest.NewUnstartedServer(live.srv.Config.Handler)
	live.srv.Listener.Close()
	live.srv.Listener = l
	live.srv.Start()
	t.Cleanup(live.srv.Close)

	cfg := filepath.Join(home, "config.yaml")
	yaml := "events:\n  sinks:\n    - url: " + live.URL() + "\n      headers: {Authorization: \"Bearer ${EVENTS_TOKEN}\"}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FERRY_CONFIG": cfg, "XDG_CACHE_HOME": home, "EVENTS_TOKEN": "s3cret"}
	r := ferry(t, env, "events", "flush", "--state-dir", state)
	if r.code != 0 || !strings.Contains(r.out, "Delivered 2 event(s); 0 waiting") || r.err != "" {
		t.Fatalf("flush: exit %d\n%s%s", r.code, r.out, r.err)
	}
	ids, auth := live.received()
	if len(ids) != 2 || auth[0] != "Bearer s3cret" || auth[1] != "Bearer s3cret" {
		t.Errorf("received %v with Authorization %q", ids, auth)
	}
	if r := ferry(t, env, "events", "list", "--state-dir", state, "-o", "json"); strings.TrimSpace(r.out) != "[]" {
		t.Errorf("spool after flush: %s", r.out)
	}
	// A second flush sends nothing again.
	if r := ferry(t, env, "events", "flush", "--state-dir", state); r.code != 0 || !strings.Contains(r.out, "Delivered 0") {
		t.Errorf("second flush: %s%s", r.out, r.err)
	}
	if ids, _ := live.received(); len(ids) != 2 {
		t.Errorf("receiver has %d events after two flushes", len(ids))
	}
}

func TestEventsFlagErrors(t *testing.T) {
	home := t.TempDir()
	state := t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": home, "XDG_CACHE_HOME": home}
	for _, args := range [][]string{
		{"events", "flush", "--state-dir", state, "--events-sink", "ftp://x/y"},
		{"events", "flush", "--state-dir", state, "--events-timeout", "-1s"},
		{"events", "flush", "--state-dir", state, "--events-timeout", "soon"},
		{"events", "list", "--state-dir", ""},
		{"events", "list", "extra"},
	} {
		if r := ferry(t, env, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, r.code, r.err)
		}
	}
	// FERRY_EVENTS_SINK fills --events-sink.
	env["FERRY_EVENTS_SINK"] = "ftp://x/y"
	if r := ferry(t, env, "events", "flush", "--state-dir", state); r.code != 2 || !strings.Contains(r.err, "ftp://x/y") {
		t.Errorf("FERRY_EVENTS_SINK: exit %d: %s", r.code, r.err)
	}
	delete(env, "FERRY_EVENTS_SINK")
	cfg := filepath.Join(home, "bad.yaml")
	_ = os.WriteFile(cfg, []byte("events:\n  timeout: soon\n"), 0o600)
	env["FERRY_CONFIG"] = cfg
	if r := ferry(t, env, "events", "flush", "--state-dir", state); r.code != 2 || !strings.Contains(r.err, "events.timeout") {
		t.Errorf("bad config timeout: exit %d: %s", r.code, r.err)
	}
	if r := ferry(t, env, "events", "--help"); !strings.Contains(r.out, "${EVENTS_TOKEN}") || !strings.Contains(r.out, "flush") {
		t.Errorf("events --help:\n%s", r.out)
	}
}

func netListen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
