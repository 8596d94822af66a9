package testutil

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory" // storage driver
	"github.com/sirupsen/logrus"
)

// Request is one request the registry received. Status is 0 while the
// request is being answered.
type Request struct {
	Method string
	Path   string
	Status int
}

// Registry is a real distribution v3 registry on loopback with in-memory
// storage. It records every request so tests can count them.
type Registry struct {
	// Host is host:port, to be used with plain HTTP.
	Host string
	// URL is http://host:port (https:// for a TLS registry).
	URL string
	// CAFile is the PEM certificate to trust a TLS registry ("" otherwise).
	CAFile string

	app      http.Handler
	mu       sync.Mutex
	requests []Request
	fault    func(w http.ResponseWriter, r *http.Request) bool
}

var quietOnce sync.Once

// NewRegistry starts a registry that stops when the test ends.
func NewRegistry(t testing.TB) *Registry {
	t.Helper()
	return newRegistry(t, false)
}

// NewTLSRegistry starts a registry served over HTTPS with a certificate of
// its own; CAFile is a PEM file of that certificate, to trust it.
func NewTLSRegistry(t testing.TB) *Registry {
	t.Helper()
	return newRegistry(t, true)
}

func newRegistry(t testing.TB, tls bool) *Registry {
	t.Helper()
	quietOnce.Do(func() { logrus.SetOutput(io.Discard) })
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{"inmemory": configuration.Parameters{}},
	}
	cfg.HTTP.Secret = "ferry-test-secret"
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	return serveRegistry(t, handlers.NewApp(context.Background(), cfg), tls)
}

// serveRegistry serves app on loopback, recording requests and running faults.
func serveRegistry(t testing.TB, app http.Handler, tls bool) *Registry {
	t.Helper()
	reg := &Registry{app: app}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Record the request as it arrives: a client may read the whole
		// answer before this handler returns.
		reg.mu.Lock()
		fault := reg.fault
		i := len(reg.requests)
		reg.requests = append(reg.requests, Request{Method: r.Method, Path: r.URL.Path})
		reg.mu.Unlock()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		if fault == nil || !fault(rec, r) {
			app.ServeHTTP(rec, r)
		}
		reg.mu.Lock()
		if i < len(reg.requests) {
			reg.requests[i].Status = rec.status
		}
		reg.mu.Unlock()
	}))
	if tls {
		srv.StartTLS()
		reg.CAFile = filepath.Join(t.TempDir(), "registry-ca.pem")
		pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
		if err := os.WriteFile(reg.CAFile, pemData, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	reg.Host, reg.URL = u.Host, srv.URL
	return reg
}

// SetFault installs a handler that runs before the registry; when it returns
// true it has answered the request itself. nil removes it.
func (r *Registry) SetFault(f func(w http.ResponseWriter, req *http.Request) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fault = f
}

// Serve lets a fault handler have the real registry answer, e.g. into an
// httptest.ResponseRecorder whose body it then alters.
func (r *Registry) Serve(w http.ResponseWriter, req *http.Request) { r.app.ServeHTTP(w, req) }

// CorruptBlobs makes every blob GET return the real blob with one byte
// flipped (headers, digest and length unchanged). nil-safe to undo with
// SetFault(nil).
func (r *Registry) CorruptBlobs() {
	r.SetFault(func(w http.ResponseWriter, req *http.Request) bool {
		if req.Method != http.MethodGet || !strings.Contains(req.URL.Path, "/blobs/") {
			return false
		}
		a := r.Answer(req)
		if len(a.Body) > 0 {
			a.Body[len(a.Body)/2] ^= 0xff
		}
		a.WriteHeader(w)
		_, _ = w.Write(a.Body)
		return true
	})
}

// Answer is the real registry's answer to a request, recorded, for a
// fault that sends its body mangled, cut short or slowly.
type Answer struct {
	Code   int
	Header http.Header
	Body   []byte
}

// Answer runs req through the real registry and records its answer.
func (r *Registry) Answer(req *http.Request) *Answer {
	rec := httptest.NewRecorder()
	r.Serve(rec, req)
	return &Answer{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// WriteHeader sends the answer's headers and status to w.
func (a *Answer) WriteHeader(w http.ResponseWriter) {
	for k, v := range a.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(a.Code)
}

// Requests returns the requests answered so far.
func (r *Registry) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Reset forgets the requests recorded so far.
func (r *Registry) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = nil
}

// Count returns how many recorded requests have method and a path containing
// part (e.g. "GET", "/blobs/").
func (r *Registry) Count(method, part string) int {
	n := 0
	for _, q := range r.Requests() {
		if (method == "" || q.Method == method) && strings.Contains(q.Path, part) {
			n++
		}
	}
	return n
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
