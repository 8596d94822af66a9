package e2e

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// errorAfterRetries checks that stderr ends in exactly one error line (and
// an optional hint), preceded by nothing but retry log lines.
func errorAfterRetries(t *testing.T, r result, code int, substr ...string) []string {
	t.Helper()
	if r.Code != code {
		t.Errorf("exit %d, want %d\nstderr: %s", r.Code, code, r.Stderr)
	}
	lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
	var retries []string
	errors := 0
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "error: "):
			errors++
		case strings.HasPrefix(l, "hint: "):
		case strings.Contains(l, "msg=") && strings.Contains(l, "retry"):
			retries = append(retries, l)
		default:
			t.Errorf("unexpected stderr line %q", l)
		}
	}
	if errors != 1 {
		t.Errorf("%d error lines, want 1:\n%s", errors, r.Stderr)
	}
	for _, s := range substr {
		if !strings.Contains(r.Stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.Stderr)
		}
	}
	return retries
}

// silentListener accepts connections and never answers.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				<-done
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

func TestStalledProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	proxy := silentListener(t)
	e.vars = append(withoutVar(e.vars, "FERRY_PLAIN_HTTP"), "HTTPS_PROXY=http://"+proxy, "NO_PROXY=")
	r := e.ferry("artifact", "info", "registry.example/acme/rules/my-rules:1.0.0", "--connect-timeout", "1s", "--retry-timeout", "3s")
	retries := errorAfterRetries(t, r, 1, "proxy "+proxy, "registry.example", "CONNECT", "--connect-timeout")
	// A stall is worth a warning at the default log level.
	if len(retries) == 0 || !strings.Contains(retries[0], "level=WARN") {
		t.Errorf("no retry warning before giving up:\n%s", r.Stderr)
	}
}

func TestRegistryWithoutHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		<-r.Context().Done()
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	r := e.ferry("artifact", "info", host+"/acme/rules/my-rules:1.0.0", "--response-timeout", "1s", "--retry-timeout", "2s")
	errorAfterRetries(t, r, 1, host, "no response headers", "--response-timeout")
	if n := requests.Load(); n < 2 {
		t.Errorf("%d requests: a stalled answer is retried", n)
	}
	// The same in an install, with the retries at info level.
	r = e.ferry("artifact", "install", host+"/acme/rules/my-rules:1.0.0", "--response-timeout", "1s", "--retry-timeout", "1s", "--log-level", "info")
	errorAfterRetries(t, r, 1, host, "no response headers")
}

func TestRetryAfterBeyondTheCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Retry-After", "150")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	r := e.ferry("artifact", "info", host+"/acme/rules/my-rules:1.0.0")
	errorAfterRetries(t, r, 1, host, "429", "2m30s", "--retry-max-wait")
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1: a wait beyond --retry-max-wait is not waited", n)
	}
	// Within the cap, ferry waits as told and says so at info level.
	requests.Store(0)
	r = e.ferry("artifact", "info", host+"/acme/rules/my-rules:1.0.0", "--retry-max-wait", "3m", "--retry-timeout", "1s", "--log-level", "info")
	errorAfterRetries(t, r, 1, host, "429", "--retry-timeout")
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1: a wait beyond --retry-timeout is not waited", n)
	}
}
