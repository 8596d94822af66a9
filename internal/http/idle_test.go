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

// A body that takes longer in total than the idle bound, but never goes
// silent for it, is not cut off. The server sends one byte each time the
// client has read the previous one, until more than twice the bound has
// passed since the first: the silences are a loopback round trip, whatever
// the machine's load, and the total is long by construction.
func TestIdleTimeoutSpareSlowSteadyBodies(t *testing.T) {
	const idle = 500 * time.Millisecond
	ack := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		for time.Since(start) <= 2*idle {
			_, _ = w.Write([]byte("x"))
			http.NewResponseController(w).Flush()
			select {
			case <-ack:
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer srv.Close()
	hc, _ := New(Options{IdleTimeout: idle, NoRetry: true})
	resp, err := hc.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got int
	buf := make([]byte, 1)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			got += n
			if buf[0] != 'x' {
				t.Fatalf("byte %q", buf[0])
			}
			ack <- struct{}{}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("slow but steady body cut after %d bytes: %v", got, err)
		}
	}
	if got < 2 {
		t.Errorf("%d bytes", got)
	}
}
