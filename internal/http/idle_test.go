package http

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestIdleTimeoutEndsAStall(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write([]byte("first bytes"))
		http.NewResponseController(w).Flush()
		select { // stall
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	hc, err := New(Options{IdleTimeout: 200 * time.Millisecond, NoRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	_, err = io.ReadAll(resp.Body)
	if err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("err = %v, want a stall", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stall detected after %v", took)
	}
}

func TestIdleTimeoutSpareSlowSteadyBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 6 {
			_, _ = w.Write([]byte("x"))
			http.NewResponseController(w).Flush()
			time.Sleep(60 * time.Millisecond)
		}
	}))
	defer srv.Close()
	hc, _ := New(Options{IdleTimeout: 150 * time.Millisecond, NoRetry: true})
	resp, err := hc.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || string(data) != "xxxxxx" {
		t.Errorf("slow but steady body: %q, %v", data, err)
	}
}
