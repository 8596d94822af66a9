package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdevents/sdk-go/pkg/api"
	v04 "github.com/cdevents/sdk-go/pkg/api/v04"
	v05 "github.com/cdevents/sdk-go/pkg/api/v05"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/protocol"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/opencontainers/go-digest"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// testArtifact is a downloaded rules file; i varies the digest.
func testArtifact(i int) Artifact {
	return Artifact{
		Name: "falco-rules", Index: "default", Version: "3.0.1", Constraint: "3.x", Ref: "falco-rules:3.x",
		Registry: "ghcr.io", Repository: "falcosecurity/rules/falco-rules", Tag: "3.0.1",
		Digest:   digest.FromString(fmt.Sprint("artifact ", i)).String(),
		ServedBy: "https://ghcr.io", Path: "/etc/falco/falco_rules.yaml", Bytes: 1234, Duration: 1500 * time.Millisecond,
	}
}

// received is one request a receiver accepted.
type received struct {
	Event       cloudevents.Event
	ContentType string
	Header      http.Header
}

// receiver is a real CloudEvents HTTP receiver (the sdk's protocol and
// receive handler) on a loopback httptest server. It can be stopped (the
// port then refuses connections) and started again on the same address.
type receiver struct {
	t       *testing.T
	handler http.Handler
	addr    string

	mu   sync.Mutex
	got  []received
	srv  *httptest.Server
	hits atomic.Int32
	// status, when non-zero, is the answer to every request; failFirst
	// answers 500 to that many requests first.
	status    atomic.Int32
	failFirst atomic.Int32
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{t: t}
	p, err := cehttp.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// The sdk's receive handler decodes the request (either content mode)
	// and answers with what the callback returns.
	h, err := cloudevents.NewHTTPReceiveHandler(ctx, p, func(ctx context.Context, ev cloudevents.Event) protocol.Result {
		n := r.hits.Add(1)
		if code := r.status.Load(); code != 0 {
			return cehttp.NewResult(int(code), "configured to answer %d", code)
		}
		if n <= r.failFirst.Load() {
			return cehttp.NewResult(http.StatusInternalServerError, "configured to fail first")
		}
		hdr, _ := ctx.Value(headerKey{}).(http.Header)
		r.mu.Lock()
		r.got = append(r.got, received{Event: ev, ContentType: hdr.Get("Content-Type"), Header: hdr})
		r.mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), headerKey{}, req.Header.Clone())))
	})
	r.start()
	t.Cleanup(r.stop)
	return r
}

type headerKey struct{}

func (r *receiver) URL() string { return "http://" + r.addr + "/events" }

// start serves on the receiver's address (a new one the first time).
func (r *receiver) start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		return
	}
	srv := httptest.NewUnstartedServer(r.handler)
	if r.addr != "" {
		srv.Listener.Close()
		l, err := net.Listen("tcp", r.addr)
		if err != nil {
			r.t.Fatalf("listening again on %s: %v", r.addr, err)
		}
		srv.Listener = l
	}
	srv.Start()
	r.addr = srv.Listener.Addr().String()
	r.srv = srv
}

// stop closes the server: connections to its address are refused.
func (r *receiver) stop() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

func (r *receiver) events() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// ids counts the events received by id.
func (r *receiver) ids() map[string]int {
	m := map[string]int{}
	for _, g := range r.events() {
		m[g.Event.ID()]++
	}
	return m
}

// downReceiver returns a receiver that is stopped: its URL refuses
// connections until start is called.
func downReceiver(t *testing.T) *receiver {
	r := newReceiver(t)
	r.stop()
	return r
}

// schemas compiles the CDEvents 0.5.1 schemas in testdata, each registered
// under its $id, with format assertions on.
type schemas struct {
	byType map[string]*jsonschema.Schema
}

var schemaIDs = map[string]string{
	"dev.cdevents.artifact.downloaded.0.2.0": "https://cdevents.dev/0.5.1/schema/artifact-downloaded-event",
	"dev.cdevents.artifact.published.0.3.0":  "https://cdevents.dev/0.5.1/schema/artifact-published-event",
	"dev.cdevents.artifact.deleted.0.2.0":    "https://cdevents.dev/0.5.1/schema/artifact-deleted-event",
}

func loadSchemas(t *testing.T) *schemas {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	err := filepath.WalkDir("testdata/schemas", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			return fmt.Errorf("%s has no $id", p)
		}
		return c.AddResource(id, doc)
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &schemas{byType: map[string]*jsonschema.Schema{}}
	for typ, id := range schemaIDs {
		sch, err := c.Compile(id)
		if err != nil {
			t.Fatalf("compiling %s: %v", id, err)
		}
		s.byType[typ] = sch
	}
	return s
}

// validateSchema checks a 0.5.1 CDEvent (JSON) against the spec's schema
// for its type; it reports whether the type has one here.
func (s *schemas) validateSchema(t *testing.T, cdevent []byte) bool {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(cdevent))
	if err != nil {
		t.Fatalf("event is not JSON: %v", err)
	}
	ctx, _ := doc.(map[string]any)["context"].(map[string]any)
	typ, _ := ctx["type"].(string)
	sch, ok := s.byType[typ]
	if !ok {
		return false
	}
	if err := sch.Validate(doc); err != nil {
		t.Errorf("event does not match the 0.5.1 schema of %s: %v\n%s", typ, err, cdevent)
	}
	return true
}

// validate checks a CDEvent (JSON) against the spec's schema for its type
// (0.5.1 events) and with the sdk's api.Validate (both specs).
func (s *schemas) validate(t *testing.T, cdevent []byte) {
	t.Helper()
	var ev api.CDEventV04
	var err error
	if s.validateSchema(t, cdevent) {
		ev, err = v05.NewFromJsonBytes(cdevent)
	} else {
		ev, err = v04.NewFromJsonBytes(cdevent)
	}
	if err != nil {
		t.Fatalf("sdk cannot parse the event: %v\n%s", err, cdevent)
	}
	if err := api.Validate(ev); err != nil {
		t.Errorf("api.Validate: %v", err)
	}
}

// checkBinding checks the CloudEvents binding of a CDEvent: id, source,
// type equal; subject = subject.id; time = timestamp; datacontenttype
// application/json; data = the whole CDEvent. It returns the CDEvent.
func checkBinding(t *testing.T, s *schemas, ce cloudevents.Event) map[string]any {
	t.Helper()
	if ce.SpecVersion() != "1.0" {
		t.Errorf("specversion %q", ce.SpecVersion())
	}
	if ce.DataContentType() != "application/json" {
		t.Errorf("datacontenttype %q", ce.DataContentType())
	}
	s.validate(t, ce.Data())
	var cd struct {
		Context struct {
			ID, Source, Type string
			Timestamp        string
		}
		Subject struct {
			ID string
		}
	}
	if err := json.Unmarshal(ce.Data(), &cd); err != nil {
		t.Fatal(err)
	}
	ts, err := time.Parse(time.RFC3339Nano, cd.Context.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	if cd.Context.ID != ce.ID() || cd.Context.Source != ce.Source() || cd.Context.Type != ce.Type() || cd.Subject.ID != ce.Subject() {
		t.Errorf("cloudevent id/source/type/subject %q %q %q %q, cdevent %q %q %q %q",
			ce.ID(), ce.Source(), ce.Type(), ce.Subject(), cd.Context.ID, cd.Context.Source, cd.Context.Type, cd.Subject.ID)
	}
	if !ce.Time().Equal(ts) || ce.Time().UTC().Format(time.RFC3339Nano) != cd.Context.Timestamp {
		t.Errorf("cloudevent time %s, cdevent timestamp %s", ce.Time().Format(time.RFC3339Nano), cd.Context.Timestamp)
	}
	var whole map[string]any
	if err := json.Unmarshal(ce.Data(), &whole); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"context", "subject", "customData"} {
		if _, ok := whole[k]; !ok {
			t.Errorf("data lacks %q: %s", k, ce.Data())
		}
	}
	return whole
}

// readLines reads a JSON-lines file into CloudEvents; a line that is not a
// complete event fails the test.
func readLines(t *testing.T, path string) []cloudevents.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []cloudevents.Event
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		ev := cloudevents.NewEvent()
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d is not a CloudEvent: %v\n%s", i+1, err, line)
		}
		out = append(out, ev)
	}
	return out
}

func mustNew(t *testing.T, cfg Config) *Emitter {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func spoolFiles(t *testing.T, dir string) []Spooled {
	t.Helper()
	l, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
