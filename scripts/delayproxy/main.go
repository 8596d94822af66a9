package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "the address to listen on")
	target := flag.String("target", "", "the server to forward to (http://host:port)")
	delay := flag.Duration("delay", 50*time.Millisecond, "how long each request waits before it is forwarded")
	logTo := flag.String("log", "", "append one line per request to this file: arrival and answer time (ms since the proxy started), method, path, status")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		fmt.Fprintln(os.Stderr, "delayproxy: -target must be a URL such as http://127.0.0.1:5000")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "delayproxy:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	h := New(u, *delay)
	if *logTo != "" {
		f, err := os.OpenFile(*logTo, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "delayproxy:", err)
			os.Exit(1)
		}
		h = logRequests(h, f, time.Now())
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute, ErrorLog: log.New(io.Discard, "", 0)}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "delayproxy:", err)
		os.Exit(1)
	}
}

// New returns a handler that forwards every request to target after delay.
// The Host header is kept, so whatever URLs the target writes point back at
// the proxy.
func New(target *url.URL, delay time.Duration) http.Handler {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		// The proxy itself must not limit parallelism to the target.
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		FlushInterval: -1,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !sleep(r.Context(), delay) {
			return
		}
		proxy.ServeHTTP(w, r)
	})
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// logRequests writes a line per request to w once it is answered: when it
// arrived and when its answer ended, in ms since start, its method, path
// and status. Lines from concurrent requests never interleave.
func logRequests(next http.Handler, w io.Writer, start time.Time) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		arrived := time.Since(start)
		sw := &statusWriter{ResponseWriter: rw, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%8.1f %8.1f %-6s %s %d\n", ms(arrived), ms(time.Since(start)), r.Method, r.URL.Path, sw.status)
	})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
