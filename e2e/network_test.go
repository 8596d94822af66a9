package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

func TestCustomCA(t *testing.T) {
	t.Parallel()
	reg := testutil.NewTLSRegistry(t)
	e := newEnv(t)
	e.vars = withoutVar(e.vars, "FERRY_PLAIN_HTTP")
	repo := reg.Host + "/acme/rules/my-rules"
	src := e.write("src/my_rules.yaml", "- rule: tls\n")

	// The registry's certificate is not trusted: one line and the hint.
	oneLine(t, e.ferry("artifact", "push", repo, src, "--type", "rulesfile", "--version", "1.0.0"), 1, "x509", "hint: pass --ca-file")
	e.ok("artifact", "push", repo, src, "--type", "rulesfile", "--version", "1.0.0", "--ca-file", reg.CAFile)
	// Per host, from the config file.
	cfg := e.write("ferry.yaml", "registries:\n  - host: "+reg.Host+"\n    caFile: "+reg.CAFile+"\n")
	e.vars = append(e.vars, "FERRY_CONFIG="+cfg)
	e.ok("artifact", "install", repo+":1.0.0")
	if got := e.read("falco", "my_rules.yaml"); got != "- rule: tls\n" {
		t.Errorf("installed %q", got)
	}
}

func TestProxyFromEnvironment(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0")
	// A forward proxy that knows "registry.example" as the test registry.
	// (Go never proxies loopback addresses, so the registry gets a name.)
	target, _ := url.Parse(reg.URL)
	var proxied atomic.Int32
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Host != "registry.example" {
			http.Error(w, "unknown host "+r.URL.Host, http.StatusBadGateway)
			return
		}
		proxied.Add(1)
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	e.vars = append(e.vars, "HTTP_PROXY="+proxy.URL, "NO_PROXY=")
	e.ok("artifact", "install", "registry.example/acme/rules/my-rules:1.0.0")
	if proxied.Load() == 0 {
		t.Error("nothing went through the proxy")
	}
	if got := e.read("falco", "my_rules.yaml"); !strings.Contains(got, "version 1.0.0") {
		t.Errorf("installed %q", got)
	}
	// NO_PROXY is honoured: the proxy is bypassed, and the name does not
	// resolve.
	e.vars = append(withoutVar(e.vars, "NO_PROXY"), "NO_PROXY=registry.example")
	r := e.ferry("artifact", "install", "registry.example/acme/rules/my-rules:1.0.0", "--rulesfiles-dir", e.path("other"))
	if r.Code == 0 {
		t.Errorf("NO_PROXY ignored: %s", r.Stdout)
	}
}
