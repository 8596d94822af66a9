package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The proxy forwards method, path, query and body, keeps the Host header,
// and passes the target's answer back unchanged.
func TestForwards(t *testing.T) {
	var gotHost, gotPath, gotQuery, gotBody, gotMethod string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotHost, gotPath, gotQuery, gotBody, gotMethod = r.Host, r.URL.Path, r.URL.RawQuery, string(b), r.Method
		w.Header().Set("Docker-Content-Digest", "sha256:abc")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "answer")
	}))
	defer target.Close()
	u, _ := url.Parse(target.URL)
	proxy := httptest.NewServer(New(u, time.Millisecond))
	defer proxy.Close()

	req, _ := http.NewRequest(http.MethodPut, proxy.URL+"/v2/a/b/manifests/1.0.0?x=1", strings.NewReader("body"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pu, _ := url.Parse(proxy.URL)
	if resp.StatusCode != http.StatusCreated || string(b) != "answer" || resp.Header.Get("Docker-Content-Digest") != "sha256:abc" {
		t.Errorf("answer %d %q %q", resp.StatusCode, b, resp.Header.Get("Docker-Content-Digest"))
	}
	if gotMethod != http.MethodPut || gotPath != "/v2/a/b/manifests/1.0.0" || gotQuery != "x=1" || gotBody != "body" || gotHost != pu.Host {
		t.Errorf("target saw %s %s ?%s %q host %s (proxy %s)", gotMethod, gotPath, gotQuery, gotBody, gotHost, pu.Host)
	}
}
