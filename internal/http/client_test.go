package http

import (
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// A host's CA file that cannot be read fails the requests to that host, with
// an error naming the file, and nothing else: the client is built, and
// other hosts are served.
func TestMissingHostCAFileFailsOnlyThatHost(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	missing := filepath.Join(t.TempDir(), "no-such-ca.pem")
	hc, err := New(Options{Hosts: map[string]HostConfig{"other.example:5000": {CAFile: missing}}})
	if err != nil {
		t.Fatalf("New: %v; a host's CA file should matter only when that host is used", err)
	}
	data, err := ReadURL(t.Context(), hc, srv.URL+"/f", 100)
	if err != nil || string(data) != "ok" {
		t.Fatalf("another host: %q, %v", data, err)
	}
	// The same server under the failing host's name: only the transport
	// differs, and the request never leaves.
	hc2, err := New(Options{Hosts: map[string]HostConfig{u.Host: {CAFile: missing}}})
	if err != nil {
		t.Fatal(err)
	}
	before := hits.Load()
	for range 2 { // the error is kept, not the first call's only
		_, err = ReadURL(t.Context(), hc2, srv.URL+"/f", 100)
		if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "host "+u.Host) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("request to the host: %v, want one line naming the host and %s", err, missing)
		}
	}
	if hits.Load() != before {
		t.Error("a request went out without the host's CA")
	}
}
