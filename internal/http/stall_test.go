package http

import (
	"bytes"
	"errors"
	"io"
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

// zeros is an endless body of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A server that takes no more of the request body ends the upload with a
// stall naming the host and --idle-timeout, instead of a hang.
func TestUploadStallNamesTheHost(t *testing.T) {
	// The handler reads nothing; a server notices a client gone only once
	// the body is read, so the test releases it.
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	hc, err := New(Options{IdleTimeout: 200 * time.Millisecond, NoRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	// Far more than the socket buffers hold: the writes block once they fill.
	const size = 1 << 30
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL+"/upload", io.LimitReader(zeros{}, size))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	_, err = hc.Do(req)
	var se *StallError
	if !errors.As(err, &se) || se.Phase != "upload" || se.Host != strings.TrimPrefix(srv.URL, "http://") {
		t.Fatalf("err = %v (%#v), want an upload stall of the server", err, se)
	}
	if !strings.Contains(err.Error(), "--idle-timeout") || !strings.Contains(err.Error(), "upload stalled") {
		t.Errorf("err %q does not say what stalled and its flag", err)
	}
}

// An upload whose body is slow to produce, but which the server takes as it
// comes, is not a stall: only the time the server leaves written data
// untaken counts. The body pauses longer than the idle bound in total; the
// server takes every byte as soon as it can.
func TestUploadSlowBodyIsNotAStall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		_, _ = w.Write([]byte(strings.ToUpper(string(data))))
	}))
	defer srv.Close()
	const idle = 200 * time.Millisecond
	hc, err := New(Options{IdleTimeout: idle, NoRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	// Each Read waits until 3 idle bounds have passed: the producer is
	// slow, the server is not.
	body := &slowProducer{data: []byte("abc"), wait: 3 * idle}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("slow producer taken for a stall: %v", err)
	}
	defer resp.Body.Close()
	if got, _ := io.ReadAll(resp.Body); string(got) != "ABC" {
		t.Errorf("echo %q", got)
	}
}

type slowProducer struct {
	data []byte
	wait time.Duration
}

func (s *slowProducer) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.wait)
	n := copy(p[:1], s.data)
	s.data = s.data[n:]
	return n, nil
}
