package http

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestResponseStallNamesTheHost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	hc, err := New(Options{ResponseTimeout: 100 * time.Millisecond, NoRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = hc.Get(srv.URL + "/v2/")
	var se *StallError
	if !errors.As(err, &se) || se.Phase != "response" || se.Host != strings.TrimPrefix(srv.URL, "http://") || se.Proxy != "" {
		t.Fatalf("err = %v (%#v), want a response stall of the server", err, se)
	}
	if !strings.Contains(err.Error(), "--response-timeout") {
		t.Errorf("err %q does not name its flag", err)
	}
}

func TestRetriesLogAndStopWithinTheBudget(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-r.Context().Done()
	}))
	defer srv.Close()
	var logs bytes.Buffer
	hc, _ := New(Options{ResponseTimeout: 50 * time.Millisecond, RetryTimeout: 1500 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	_, err := hc.Get(srv.URL)
	if err == nil || !strings.Contains(err.Error(), "--retry-timeout") || !strings.Contains(err.Error(), "no response headers") {
		t.Fatalf("err = %v", err)
	}
	var se *StallError
	if !errors.As(err, &se) {
		t.Errorf("the stall is not in the chain: %v", err)
	}
	n := int(calls.Load())
	if n < 2 || n > maxRetries {
		t.Errorf("%d attempts: want a retry, and fewer than all retries within the budget", n)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != n-1 {
		t.Errorf("%d log lines for %d attempts:\n%s", len(lines), n, logs.String())
	}
	for _, l := range lines {
		if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "retry ") {
			t.Errorf("a stall's retry line is not a warning: %s", l)
		}
	}
}

func TestRetryAfterBeyondMaxWait(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "150")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	hc, _ := New(Options{})
	_, err := hc.Get(srv.URL)
	var ra *RetryAfterError
	if !errors.As(err, &ra) || ra.After != 150*time.Second || ra.Limit != DefaultRetryMaxWait || calls.Load() != 1 {
		t.Fatalf("err = %v after %d calls", err, calls.Load())
	}
	if !strings.Contains(err.Error(), "2m30s") || !strings.Contains(err.Error(), "--retry-max-wait") {
		t.Errorf("err %q", err)
	}
}

func TestShortRetriesLogAtInfo(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	var logs bytes.Buffer
	hc, _ := New(Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	resp, err := hc.Get(srv.URL + "/v2/x?token=secret")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	out := logs.String()
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "level=INFO") || !strings.Contains(out, "502 Bad Gateway; retry 1 of 5") {
		t.Errorf("log:\n%s", out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("the query leaked into the log: %s", out)
	}
}

func TestHEADRefusedIsAskedWithGET(t *testing.T) {
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		gets.Add(1)
		w.Header().Set("Docker-Content-Digest", "sha256:abc")
		_, _ = w.Write([]byte("a body that is not read"))
	}))
	defer srv.Close()
	hc, _ := New(Options{NoRetry: true})
	resp, err := hc.Head(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != "sha256:abc" || gets.Load() != 1 || resp.Request.Method != http.MethodHead {
		t.Errorf("status %d, digest %q, %d GETs", resp.StatusCode, resp.Header.Get("Docker-Content-Digest"), gets.Load())
	}
	if n, _ := resp.Body.Read(make([]byte, 8)); n != 0 {
		t.Errorf("the HEAD answer has a body")
	}
}
