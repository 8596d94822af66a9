package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/fsutil"
	"github.com/google/go-cmp/cmp"
)

func TestConformanceExamplesPassTheValidator(t *testing.T) {
	s := loadSchemas(t)
	for _, name := range []string{"artifact_downloaded.json", "artifact_published.json"} {
		data, err := os.ReadFile(filepath.Join("testdata/conformance", name))
		if err != nil {
			t.Fatal(err)
		}
		s.validateSchema(t, data)
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return cmp.Equal(x, y)
}

// fileEvents emits with an events file only and returns the CloudEvents
// written there.
func fileEvents(t *testing.T, cfg Config, emit func(*Emitter)) []map[string]any {
	t.Helper()
	cfg.File = filepath.Join(t.TempDir(), "events.jsonl")
	e := mustNew(t, cfg)
	emit(e)
	s := loadSchemas(t)
	var out []map[string]any
	for _, ce := range readLines(t, cfg.File) {
		out = append(out, checkBinding(t, s, ce))
	}
	return out
}

func TestEventContent(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 4, 1, 12, 30, 45, 123456789, time.FixedZone("CEST", 2*3600))
	dl := testArtifact(1)
	anon := testArtifact(2)
	dl.User = "robot$ci"
	plugin := testArtifact(3)
	plugin.Repository, plugin.Name, plugin.Platform = "falcosecurity/plugins/plugin/k8saudit", "k8saudit", "linux/amd64"
	pub := Artifact{Name: "myrules", Version: "1.2.3", Registry: "localhost:5000", Repository: "org/repo/myrules", Tag: "1.2.3",
		Digest: testArtifact(4).Digest, Path: "rules.yaml", Bytes: 99, Duration: 250 * time.Microsecond, User: "pusher"}
	evs := fileEvents(t, Config{Source: "/ferry/test-host", User: "alice", Now: func() time.Time { return at }}, func(e *Emitter) {
		for _, a := range []Artifact{dl, anon, plugin} {
			if w, err := e.Downloaded(ctx, a); err != nil || len(w) > 0 {
				t.Fatalf("Downloaded: %v %v", w, err)
			}
		}
		if w, err := e.Published(ctx, pub); err != nil || len(w) > 0 {
			t.Fatalf("Published: %v %v", w, err)
		}
	})
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4", len(evs))
	}
	get := func(m map[string]any, path string) any {
		var v any = m
		for _, k := range strings.Split(path, ".") {
			v = v.(map[string]any)[k]
		}
		return v
	}
	wantPURL := func(a Artifact) string {
		p, err := PURL(a)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for i, c := range []struct {
		typ, user, purl string
	}{
		{"dev.cdevents.artifact.downloaded.0.2.0", "robot$ci", wantPURL(dl)},
		{"dev.cdevents.artifact.downloaded.0.2.0", "alice", wantPURL(anon)},
		{"dev.cdevents.artifact.downloaded.0.2.0", "alice", wantPURL(plugin)},
		{"dev.cdevents.artifact.published.0.3.0", "pusher", wantPURL(pub)},
	} {
		ev := evs[i]
		for path, want := range map[string]any{
			"context.type":          c.typ,
			"context.specversion":   "0.5.1",
			"context.source":        "/ferry/test-host",
			"context.timestamp":     "2026-04-01T10:30:45.123456789Z",
			"subject.id":            c.purl,
			"subject.content.user":  c.user,
			"customDataContentType": "application/json",
		} {
			if got := get(ev, path); got != want {
				t.Errorf("event %d %s = %v, want %v", i, path, got, want)
			}
		}
	}
	if !strings.Contains(wantPURL(plugin), "arch=amd64") {
		t.Errorf("plugin purl lacks arch: %s", wantPURL(plugin))
	}
	wantData := map[string]any{
		"index": "default", "name": "falco-rules", "version": "3.0.1", "constraint": "3.x", "ref": "falco-rules:3.x",
		"registry": "ghcr.io", "repository": "falcosecurity/rules/falco-rules", "tag": "3.0.1", "digest": dl.Digest,
		"servedBy": "https://ghcr.io", "path": "/etc/falco/falco_rules.yaml", "bytes": 1234.0, "durationMs": 1500.0,
	}
	if diff := cmp.Diff(wantData, evs[0]["customData"]); diff != "" {
		t.Errorf("customData (-want +got):\n%s", diff)
	}
	if got := get(evs[3], "customData.durationMs"); got != 0.25 {
		t.Errorf("published durationMs = %v, want 0.25", got)
	}
	if got := get(evs[2], "customData.platform"); got != "linux/amd64" {
		t.Errorf("plugin platform = %v", got)
	}
}

func TestEventDefaults(t *testing.T) {
	evs := fileEvents(t, Config{}, func(e *Emitter) {
		if _, err := e.Downloaded(context.Background(), testArtifact(1)); err != nil {
			t.Fatal(err)
		}
	})
	ctx := evs[0]["context"].(map[string]any)
	if ctx["source"] != DefaultSource() || !strings.HasPrefix(DefaultSource(), "/ferry/") {
		t.Errorf("source %v, want %s", ctx["source"], DefaultSource())
	}
	if u := evs[0]["subject"].(map[string]any)["content"].(map[string]any)["user"]; u != DefaultUser() || u == "" {
		t.Errorf("user %v, want %s", u, DefaultUser())
	}
}

func TestSpec04(t *testing.T) {
	ctx := context.Background()
	evs := fileEvents(t, Config{Spec: "0.4"}, func(e *Emitter) {
		if _, err := e.Downloaded(ctx, testArtifact(1)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Published(ctx, testArtifact(2)); err != nil {
			t.Fatal(err)
		}
	})
	for i, want := range []string{"dev.cdevents.artifact.downloaded.0.1.0", "dev.cdevents.artifact.published.0.2.0"} {
		c := evs[i]["context"].(map[string]any)
		if c["type"] != want || c["version"] != "0.4.1" {
			t.Errorf("event %d: type %v version %v, want %s 0.4.1", i, c["type"], c["version"], want)
		}
		if st := evs[i]["subject"].(map[string]any)["type"]; st != "artifact" {
			t.Errorf("event %d: subject.type %v", i, st)
		}
	}
}

func TestInvalidArtifactIsAnError(t *testing.T) {
	e := mustNew(t, Config{File: filepath.Join(t.TempDir(), "f")})
	a := testArtifact(1)
	a.Digest = ""
	if _, err := e.Downloaded(context.Background(), a); !errors.Is(err, ErrInvalidArtifact) {
		t.Errorf("err = %v, want ErrInvalidArtifact", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	env := func(string) string { return "" }
	for name, cfg := range map[string]Config{
		"spec":          {Spec: "0.3"},
		"sink scheme":   {Sinks: []Sink{{URL: "ftp://example.com/x"}}},
		"sink no host":  {Sinks: []Sink{{URL: "http:///x"}}},
		"unset env var": {Sinks: []Sink{{URL: "http://127.0.0.1:1/x", Headers: map[string]string{"Authorization": "Bearer ${NOPE}"}}}, Getenv: env},
		"bad source":    {File: "x", Source: "::not a uri"},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestDisabledDoesNothing(t *testing.T) {
	e := mustNew(t, Config{SpoolDir: t.TempDir()})
	if e.Enabled() {
		t.Fatal("enabled with no sink and no file")
	}
	bad := Artifact{} // would be an error if anything were built
	ctx := context.Background()
	if w, err := e.Downloaded(ctx, bad); w != nil || err != nil {
		t.Errorf("Downloaded = %v, %v", w, err)
	}
	var nilEmitter *Emitter
	if w, err := nilEmitter.Published(ctx, bad); w != nil || err != nil {
		t.Errorf("nil emitter: %v, %v", w, err)
	}
	a := testArtifact(1)
	if n := testing.AllocsPerRun(100, func() { _, _ = e.Downloaded(ctx, a) }); n != 0 {
		t.Errorf("%v allocations per disabled Downloaded, want 0", n)
	}
}

func TestDeliveryModesAndBinding(t *testing.T) {
	structured, binary := newReceiver(t), newReceiver(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "events.jsonl")
	e := mustNew(t, Config{
		Sinks: []Sink{
			{URL: structured.URL(), Headers: map[string]string{"Authorization": "Bearer ${TOKEN}", "X-Plain": "a$b"}},
			{URL: binary.URL(), Binary: true},
		},
		File: file, SpoolDir: filepath.Join(dir, "spool"), Timeout: 2 * time.Second,
		Getenv: func(k string) string { return map[string]string{"TOKEN": "s3cret"}[k] },
	})
	ctx := context.Background()
	for i := range 3 {
		if w, err := e.Downloaded(ctx, testArtifact(i)); err != nil || len(w) > 0 {
			t.Fatalf("Downloaded: %v %v", w, err)
		}
	}
	if w, err := e.Published(ctx, testArtifact(9)); err != nil || len(w) > 0 {
		t.Fatalf("Published: %v %v", w, err)
	}
	s := loadSchemas(t)
	lines := readLines(t, file)
	if len(lines) != 4 {
		t.Fatalf("%d lines in the events file, want 4", len(lines))
	}
	for _, c := range []struct {
		r           *receiver
		contentType string
	}{
		{structured, "application/cloudevents+json"},
		{binary, "application/json"},
	} {
		got := c.r.events()
		if len(got) != 4 {
			t.Fatalf("%s received %d events, want 4", c.r.URL(), len(got))
		}
		for i, g := range got {
			if !strings.HasPrefix(g.ContentType, c.contentType) {
				t.Errorf("%s: content type %q, want %s", c.r.URL(), g.ContentType, c.contentType)
			}
			checkBinding(t, s, g.Event)
			// The same event as in the events file, time included.
			want := lines[i]
			if g.Event.ID() != want.ID() || !g.Event.Time().Equal(want.Time()) || !sameJSON(t, g.Event.Data(), want.Data()) {
				t.Errorf("received event %d differs from the file's:\n%s\n%s", i, g.Event, want)
			}
		}
		if n := c.r.hits.Load(); n != 4 {
			t.Errorf("%s got %d requests, want 4", c.r.URL(), n)
		}
	}
	if h := structured.events()[0].Header; h.Get("Authorization") != "Bearer s3cret" || h.Get("X-Plain") != "a$b" {
		t.Errorf("headers %v", h)
	}
	if h := binary.events()[0].Header; h.Get("Ce-Id") == "" || h.Get("Ce-Time") == "" {
		t.Errorf("binary mode without ce- headers: %v", h)
	}
	if l := spoolFiles(t, filepath.Join(dir, "spool")); len(l) != 0 {
		t.Errorf("spool holds %d entries after clean deliveries", len(l))
	}
}

func TestUnreachableSinkSpoolsOnceWarnedThenFlushDelivers(t *testing.T) {
	r := downReceiver(t)
	spool := filepath.Join(t.TempDir(), "events", "spool")
	cfg := Config{Sinks: []Sink{{URL: r.URL()}}, SpoolDir: spool, Timeout: 2 * time.Second}
	e := mustNew(t, cfg)
	ctx := context.Background()
	start := time.Now()
	w, err := e.Downloaded(ctx, testArtifact(1))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > cfg.Timeout {
		t.Errorf("Downloaded took %s with the sink down (timeout %s)", d, cfg.Timeout)
	}
	if len(w) != 1 || !strings.Contains(w[0], r.URL()) || !strings.Contains(w[0], "refused") || !strings.Contains(w[0], spool) {
		t.Errorf("warnings %q, want one naming the sink, the cause and the spool", w)
	}
	// Later events of the run: spooled at once, no new warning.
	start = time.Now()
	for i := 2; i <= 3; i++ {
		if w, err := e.Downloaded(ctx, testArtifact(i)); err != nil || len(w) != 0 {
			t.Errorf("event %d: %v %v", i, w, err)
		}
	}
	if d := time.Since(start); d > cfg.Timeout/2 {
		t.Errorf("spooling for a down sink took %s: it should not try the sink again", d)
	}
	l := spoolFiles(t, spool)
	if len(l) != 3 {
		t.Fatalf("spool holds %d entries, want 3", len(l))
	}
	for _, en := range l {
		if en.Sink != r.URL() || en.Type != "dev.cdevents.artifact.downloaded.0.2.0" || en.ID == "" || !strings.HasPrefix(en.Subject, "pkg:oci/") {
			t.Errorf("entry %+v", en)
		}
		fi, err := os.Stat(en.Path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v", en.Path, fi.Mode(), err)
		}
	}
	if l[0].Attempts != 1 || !strings.Contains(l[0].LastError, "refused") {
		t.Errorf("first entry attempts %d lastError %q", l[0].Attempts, l[0].LastError)
	}
	// Still down: Flush keeps them, with a warning.
	if n, w, err := mustNew(t, cfg).Flush(ctx); n != 0 || len(w) != 1 || err != nil {
		t.Errorf("Flush with the sink down = %d, %q, %v", n, w, err)
	}
	if got := len(spoolFiles(t, spool)); got != 3 {
		t.Fatalf("spool holds %d after a failed flush", got)
	}

	r.start()
	n, w, err := mustNew(t, cfg).Flush(ctx)
	if n != 3 || len(w) != 0 || err != nil {
		t.Fatalf("Flush = %d, %q, %v; want 3 delivered", n, w, err)
	}
	ids := r.ids()
	for _, en := range l {
		if ids[en.ID] != 1 {
			t.Errorf("event %s received %d times", en.ID, ids[en.ID])
		}
	}
	if len(spoolFiles(t, spool)) != 0 {
		t.Error("spool not empty after delivery")
	}
	if n, _, _ := mustNew(t, cfg).Flush(ctx); n != 0 || len(r.events()) != 3 {
		t.Errorf("second flush delivered %d; receiver has %d", n, len(r.events()))
	}
	// Times survive the spool: time == timestamp still.
	s := loadSchemas(t)
	for _, g := range r.events() {
		checkBinding(t, s, g.Event)
	}
}

func TestNextRunSendsBacklogFirst(t *testing.T) {
	r := downReceiver(t)
	spool := t.TempDir()
	cfg := Config{Sinks: []Sink{{URL: r.URL()}}, SpoolDir: spool, Timeout: time.Second}
	e := mustNew(t, cfg)
	var want []string
	for i := range 3 {
		if _, err := e.Downloaded(context.Background(), testArtifact(i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, en := range spoolFiles(t, spool) {
		want = append(want, en.ID)
	}
	r.start()
	next := mustNew(t, cfg)
	if w, err := next.Downloaded(context.Background(), testArtifact(10)); err != nil || len(w) != 0 {
		t.Fatalf("next run: %v %v", w, err)
	}
	var got []string
	for _, g := range r.events() {
		got = append(got, g.Event.ID())
	}
	if len(got) != 4 || !cmp.Equal(got[:3], want) {
		t.Errorf("received %v, want the backlog %v then the new event", got, want)
	}
	if len(spoolFiles(t, spool)) != 0 {
		t.Error("backlog left in the spool")
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	t.Run("recovers", func(t *testing.T) {
		r := newReceiver(t)
		r.failFirst.Store(2)
		e := mustNew(t, Config{Sinks: []Sink{{URL: r.URL()}}, SpoolDir: t.TempDir(), Timeout: 2 * time.Second})
		w, err := e.Downloaded(context.Background(), testArtifact(1))
		if err != nil || len(w) != 0 {
			t.Fatalf("%v %v", w, err)
		}
		if r.hits.Load() != 3 || len(r.events()) != 1 {
			t.Errorf("%d requests, %d events; want 3 requests, 1 event", r.hits.Load(), len(r.events()))
		}
	})
	t.Run("keeps failing", func(t *testing.T) {
		r := newReceiver(t)
		r.status.Store(http.StatusInternalServerError)
		spool := t.TempDir()
		e := mustNew(t, Config{Sinks: []Sink{{URL: r.URL()}}, SpoolDir: spool, Timeout: 2 * time.Second})
		w, err := e.Downloaded(context.Background(), testArtifact(1))
		if err != nil || len(w) != 1 || !strings.Contains(w[0], "HTTP 500") {
			t.Fatalf("warnings %q, err %v", w, err)
		}
		if r.hits.Load() != maxAttempts {
			t.Errorf("%d requests, want %d", r.hits.Load(), maxAttempts)
		}
		l := spoolFiles(t, spool)
		if len(l) != 1 || l[0].LastError != "HTTP 500 Internal Server Error" {
			t.Fatalf("spool %+v", l)
		}
		// It recovers: the next run delivers the spooled event once.
		r.status.Store(0)
		n, w, err := mustNew(t, Config{SpoolDir: spool, Timeout: time.Second}).Flush(context.Background())
		if n != 1 || len(w) != 0 || err != nil || len(r.events()) != 1 || r.events()[0].Event.ID() != l[0].ID {
			t.Errorf("flush %d %q %v; received %d", n, w, err, len(r.events()))
		}
	})
}

func TestRejectedEventKeepsTheSinkUp(t *testing.T) {
	r := newReceiver(t)
	r.status.Store(http.StatusBadRequest)
	spool := t.TempDir()
	e := mustNew(t, Config{Sinks: []Sink{{URL: r.URL()}}, SpoolDir: spool, Timeout: time.Second})
	ctx := context.Background()
	w, _ := e.Downloaded(ctx, testArtifact(1))
	if len(w) != 1 || !strings.Contains(w[0], "rejected") || r.hits.Load() != 1 {
		t.Fatalf("warnings %q after %d requests; want one rejection after one request", w, r.hits.Load())
	}
	r.status.Store(0)
	if w, _ := e.Downloaded(ctx, testArtifact(2)); len(w) != 0 || len(r.events()) != 1 {
		t.Fatalf("next event: %q, received %d", w, len(r.events()))
	}
	if l := spoolFiles(t, spool); len(l) != 1 {
		t.Errorf("spool holds %d, want the rejected event", len(l))
	}
}

func TestSinkThatNeverAnswersCostsTheTimeoutOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	// Accept connections and never answer.
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	timeout := 300 * time.Millisecond
	spool := t.TempDir()
	e := mustNew(t, Config{Sinks: []Sink{{URL: "http://" + l.Addr().String() + "/"}}, SpoolDir: spool, Timeout: timeout})
	start := time.Now()
	var warnings []string
	for i := range 5 {
		w, err := e.Downloaded(context.Background(), testArtifact(i))
		if err != nil {
			t.Fatal(err)
		}
		warnings = append(warnings, w...)
	}
	if d := time.Since(start); d > timeout+time.Second {
		t.Errorf("5 events took %s with a silent sink (timeout %s)", d, timeout)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "no answer within 300ms") {
		t.Errorf("warnings %q", warnings)
	}
	if got := len(spoolFiles(t, spool)); got != 5 {
		t.Errorf("spool holds %d, want 5", got)
	}
}

func TestFlushOldestFirst(t *testing.T) {
	r := downReceiver(t)
	spool := t.TempDir()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var order []int // the order events are emitted in: not their time order
	for _, minute := range []int{3, 1, 2} {
		at := base.Add(time.Duration(minute) * time.Minute)
		e := mustNew(t, Config{Sinks: []Sink{{URL: r.URL()}}, SpoolDir: spool, Timeout: time.Second, Now: func() time.Time { return at }})
		if _, err := e.Downloaded(context.Background(), testArtifact(minute)); err != nil {
			t.Fatal(err)
		}
		order = append(order, minute)
	}
	r.start()
	if n, w, err := mustNew(t, Config{SpoolDir: spool}).Flush(context.Background()); n != 3 || err != nil || len(w) != 0 {
		t.Fatalf("flush %d %q %v", n, w, err)
	}
	var got []int
	for _, g := range r.events() {
		got = append(got, g.Event.Time().Minute())
	}
	if !cmp.Equal(got, []int{1, 2, 3}) {
		t.Errorf("received minutes %v (emitted %v), want oldest first", got, order)
	}
}

func TestFlushOneSinkAndUnconfiguredSinkHeaders(t *testing.T) {
	a, b := downReceiver(t), downReceiver(t)
	spool := t.TempDir()
	env := func(k string) string { return map[string]string{"TOKEN": "s3cret"}[k] }
	e := mustNew(t, Config{
		Sinks:    []Sink{{URL: a.URL(), Headers: map[string]string{"Authorization": "Bearer ${TOKEN}"}}, {URL: b.URL(), Binary: true}},
		SpoolDir: spool, Timeout: time.Second, Getenv: env,
	})
	for i := range 2 {
		if _, err := e.Downloaded(context.Background(), testArtifact(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(spoolFiles(t, spool)); got != 4 {
		t.Fatalf("spool holds %d, want 2 events × 2 sinks", got)
	}
	// No secret on disk: the spool keeps the header template.
	for _, en := range spoolFiles(t, spool) {
		data, _ := os.ReadFile(en.Path)
		if strings.Contains(string(data), "s3cret") {
			t.Errorf("%s holds the expanded token", en.Path)
		}
	}
	a.start()
	b.start()
	// A later run with no sink configured: only a's entries, with the
	// spooled header template expanded now.
	n, w, err := mustNew(t, Config{SpoolDir: spool, Getenv: env}).Flush(context.Background(), a.URL())
	if n != 2 || len(w) != 0 || err != nil {
		t.Fatalf("flush %d %q %v", n, w, err)
	}
	if len(a.events()) != 2 || len(b.events()) != 0 {
		t.Fatalf("a got %d, b got %d", len(a.events()), len(b.events()))
	}
	if h := a.events()[0].Header.Get("Authorization"); h != "Bearer s3cret" {
		t.Errorf("Authorization %q", h)
	}
	n, _, _ = mustNew(t, Config{SpoolDir: spool, Getenv: env}).Flush(context.Background())
	if n != 2 || len(b.events()) != 2 || !strings.HasPrefix(b.events()[0].ContentType, "application/json") {
		t.Errorf("flush of b: %d; b got %d", n, len(b.events()))
	}
}

func TestCorruptSpoolFileIsListedAndSkipped(t *testing.T) {
	spool := t.TempDir()
	bad := filepath.Join(spool, "00000000000000000001-000000000000-x.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := spoolFiles(t, spool)
	if len(l) != 1 || l[0].Sink != "" || !strings.Contains(l[0].LastError, "corrupt") {
		t.Fatalf("List = %+v", l)
	}
	n, w, err := mustNew(t, Config{SpoolDir: spool}).Flush(context.Background())
	if n != 0 || err != nil || len(w) != 1 || !strings.Contains(w[0], bad) {
		t.Errorf("Flush = %d %q %v", n, w, err)
	}
}

func TestNoSpoolDirLosesWithAWarning(t *testing.T) {
	r := downReceiver(t)
	e := mustNew(t, Config{Sinks: []Sink{{URL: r.URL()}}, Timeout: time.Second})
	w, err := e.Downloaded(context.Background(), testArtifact(1))
	if err != nil || len(w) != 1 || !strings.Contains(w[0], "lost") {
		t.Errorf("%q %v", w, err)
	}
	if _, _, err := e.Flush(context.Background()); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Flush without a spool: %v", err)
	}
}

func TestConcurrentEmittersShareASpool(t *testing.T) {
	r := downReceiver(t)
	dir := t.TempDir()
	spool, file := filepath.Join(dir, "spool"), filepath.Join(dir, "events.jsonl")
	const emitters, perEmitter = 6, 5
	var wg sync.WaitGroup
	for g := range emitters {
		wg.Go(func() {
			e := mustNew(t, Config{Sinks: []Sink{{URL: r.URL()}}, SpoolDir: spool, File: file, Timeout: time.Second})
			for i := range perEmitter {
				if _, err := e.Downloaded(context.Background(), testArtifact(g*100+i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	checkSpoolAndFile(t, spool, file, emitters*perEmitter)
	r.start()
	// Several flushers at once: each event still arrives once.
	var delivered sync.Map
	for g := range 4 {
		wg.Go(func() {
			n, _, err := mustNew(t, Config{SpoolDir: spool, Timeout: 2 * time.Second}).Flush(context.Background())
			if err != nil {
				t.Error(err)
			}
			delivered.Store(g, n)
		})
	}
	wg.Wait()
	total := 0
	delivered.Range(func(_, v any) bool { total += v.(int); return true })
	checkExactlyOnce(t, r, total, emitters*perEmitter)
	if len(spoolFiles(t, spool)) != 0 {
		t.Error("spool not empty")
	}
}

func checkSpoolAndFile(t *testing.T, spool, file string, want int) {
	t.Helper()
	l := spoolFiles(t, spool)
	if len(l) != want {
		t.Errorf("spool holds %d entries, want %d", len(l), want)
	}
	seen := map[string]bool{}
	for _, en := range l {
		if en.Sink == "" || seen[en.ID] {
			t.Errorf("bad or duplicate entry %+v", en)
		}
		seen[en.ID] = true
	}
	for i := 1; i < len(l); i++ {
		if l[i].Time.Before(l[i-1].Time) {
			t.Errorf("List not oldest first at %d", i)
		}
	}
	if lines := readLines(t, file); len(lines) != want {
		t.Errorf("events file has %d lines, want %d", len(lines), want)
	}
	des, _ := os.ReadDir(spool)
	for _, de := range des {
		if fsutil.IsTemp(de.Name()) {
			t.Errorf("temporary file left: %s", de.Name())
		}
	}
}

func checkExactlyOnce(t *testing.T, r *receiver, delivered, want int) {
	t.Helper()
	ids := r.ids()
	if delivered != want || len(ids) != want {
		t.Errorf("flushers delivered %d, receiver has %d distinct events; want %d", delivered, len(ids), want)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("event %s received %d times", id, n)
		}
	}
}

// TestSpoolSurvivesEmitterRestartAcrossSpecs checks that a 0.4 event spooled
// by one run is sent unchanged by a 0.5 run.
func TestSpoolKeepsTheEventAsBuilt(t *testing.T) {
	r := downReceiver(t)
	spool := t.TempDir()
	e := mustNew(t, Config{Sinks: []Sink{{URL: r.URL()}}, SpoolDir: spool, Spec: "0.4", Timeout: time.Second})
	if _, err := e.Downloaded(context.Background(), testArtifact(1)); err != nil {
		t.Fatal(err)
	}
	r.start()
	if n, _, _ := mustNew(t, Config{SpoolDir: spool}).Flush(context.Background()); n != 1 {
		t.Fatal("not delivered")
	}
	got := r.events()[0].Event
	if got.Type() != "dev.cdevents.artifact.downloaded.0.1.0" {
		t.Errorf("type %s", got.Type())
	}
	var cd map[string]any
	_ = json.Unmarshal(got.Data(), &cd)
	if fmt.Sprint(cd["context"].(map[string]any)["version"]) != "0.4.1" {
		t.Errorf("context %v", cd["context"])
	}
}

func TestInterruptedRunSpoolsAtOnce(t *testing.T) {
	r := newReceiver(t)
	spool := t.TempDir()
	e := mustNew(t, Config{Sinks: []Sink{{URL: r.URL()}}, SpoolDir: spool, Timeout: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	w, err := e.Downloaded(ctx, testArtifact(1))
	if err != nil || len(w) != 1 || !strings.Contains(w[0], "canceled") {
		t.Errorf("%q %v", w, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s with a cancelled context", d)
	}
	if got := len(spoolFiles(t, spool)); got != 1 || r.hits.Load() != 0 {
		t.Errorf("spool %d, receiver hits %d", got, r.hits.Load())
	}
}

func TestValidatorRejectsBrokenEvents(t *testing.T) {
	s := loadSchemas(t)
	evs := fileEvents(t, Config{}, func(e *Emitter) {
		if _, err := e.Downloaded(context.Background(), testArtifact(1)); err != nil {
			t.Fatal(err)
		}
	})
	for name, mutate := range map[string]func(map[string]any){
		"control: unchanged":    nil,
		"no subject.content":    func(m map[string]any) { delete(m["subject"].(map[string]any), "content") },
		"unknown context field": func(m map[string]any) { m["context"].(map[string]any)["extra"] = "x" },
		"bad timestamp":         func(m map[string]any) { m["context"].(map[string]any)["timestamp"] = "yesterday" },
		"wrong type": func(m map[string]any) {
			m["context"].(map[string]any)["type"] = "dev.cdevents.artifact.published.0.3.0"
		},
	} {
		raw, _ := json.Marshal(evs[0])
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		err := s.byType["dev.cdevents.artifact.downloaded.0.2.0"].Validate(m)
		if mutate == nil {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		mutate(m)
		if err := s.byType["dev.cdevents.artifact.downloaded.0.2.0"].Validate(m); err == nil {
			t.Errorf("%s: the artifact.downloaded schema accepted it", name)
		}
	}
}
