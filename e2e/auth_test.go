package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ferryhq/ferry/internal/testutil"
)

func TestLoginAndPrivateRegistry(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	htpasswd := e.write("htpasswd", "alice:"+string(hash)+"\n")
	reg := startRegistry(t, fmt.Sprintf("auth:\n  htpasswd:\n    realm: ferry-test\n    path: %s\n", htpasswd))
	repo := reg.Host + "/acme/rules/my-rules"
	src := e.write("src/my_rules.yaml", "- rule: private\n")

	// Without credentials: exit 4 and the login hint.
	oneLine(t, e.ferry("artifact", "push", repo, src, "--type", "rulesfile", "--version", "1.0.0"), 4, "hint: run: ferry registry login "+reg.Host)
	// A wrong password is refused at login and nothing is stored.
	r := e.ferry("registry", "login", reg.Host, "-u", "alice", "-p", "wrong")
	if r.Code == 0 {
		t.Fatalf("login with a wrong password succeeded")
	}
	// The right one, from stdin, goes to the docker credential store.
	cmd := e.command("registry", "login", reg.Host, "-u", "alice", "--password-stdin")
	cmd.Stdin = strings.NewReader("s3cret\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("login: %v\n%s", err, out)
	}
	if cfg := e.read("docker", "config.json"); !strings.Contains(cfg, reg.Host) {
		t.Errorf("credentials not in the docker config: %s", cfg)
	}
	e.ok("artifact", "push", repo, src, "--type", "rulesfile", "--version", "1.0.0")
	e.ok("artifact", "install", repo+":1.0.0")
	if got := e.read("falco", "my_rules.yaml"); got != "- rule: private\n" {
		t.Errorf("installed %q", got)
	}
	e.ok("registry", "logout", reg.Host)
	oneLine(t, e.ferry("artifact", "info", repo+":1.0.0"), 4, "login")
}

func TestRetriesTransientErrors(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))
	var failures atomic.Int32
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		switch failures.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			return false
		}
		return true
	})
	e.ok("artifact", "install", "rules:1.x")
	if n := failures.Load(); n < 3 {
		t.Errorf("fault hit %d times", n)
	}
}

func TestPerHostConfigAndHTTPIndex(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0")
	// The index is served over HTTP.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/index.yaml" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, rulesIndex(reg.Host))
	}))
	defer srv.Close()
	// Plain HTTP comes from the config file's per-host block, not the flag.
	cfg := e.write("ferry.yaml", fmt.Sprintf("registries:\n  - host: %s\n    plainHTTP: true\n", reg.Host))
	e.vars = append(withoutVar(e.vars, "FERRY_PLAIN_HTTP"), "FERRY_CONFIG="+cfg)
	e.ok("index", "add", "remote", srv.URL+"/index.yaml")
	e.ok("artifact", "install", "rules:1.x")
	if data, err := os.ReadFile(cfg); err != nil || !strings.Contains(string(data), "plainHTTP: true") || !strings.Contains(string(data), "remote") {
		t.Errorf("config after index add: %s %v", data, err)
	}
	oneLine(t, e.ferry("index", "add", "missing", srv.URL+"/nope.yaml"), 3, "404")
}

func withoutVar(vars []string, name string) []string {
	var out []string
	for _, v := range vars {
		if !strings.HasPrefix(v, name+"=") {
			out = append(out, v)
		}
	}
	return out
}
