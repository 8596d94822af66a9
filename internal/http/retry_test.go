package http

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{"0", 0, true},
		{"-1", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"soon", 0, false},
	} {
		got, ok := retryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestRetriesHonourRetryAfterOn503(t *testing.T) {
	var calls atomic.Int32
	var first time.Time
	var gap time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			gap = time.Since(first)
			_, _ = w.Write([]byte("ok"))
		}
	}))
	defer srv.Close()
	hc, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || calls.Load() != 2 {
		t.Fatalf("status %d after %d calls", resp.StatusCode, calls.Load())
	}
	// The client waited as told, not its own 250ms first backoff.
	if gap < 900*time.Millisecond {
		t.Errorf("retried after %v, before the 1s Retry-After", gap)
	}
}

// A server that answers 500, or asks (Retry-After) for longer than ferry
// waits, is the server's failure once the retries stop, not the network's:
// a download's error matches ErrServer, not ErrNetwork, and says why the
// retries stopped.
func TestDownloadGivesUpOnTheServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/later" {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	hc, err := New(Options{RetryTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/broken": "answered 500 Internal Server Error; giving up after 1 attempts",
		"/later":  "answered 503 Service Unavailable with Retry-After 1h0m0s",
	} {
		_, err := Download(t.Context(), hc, srv.URL+path, io.Discard, DownloadOptions{})
		if !errors.Is(err, ErrServer) || errors.Is(err, ErrNetwork) {
			t.Errorf("%s: %v: want a server error, not a network error", path, err)
		}
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "network error") {
			t.Errorf("%s: %v; want it to say %q", path, err, want)
		}
	}
}
