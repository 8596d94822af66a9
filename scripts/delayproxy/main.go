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
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "the address to listen on")
	target := flag.String("target", "", "the server to forward to (http://host:port)")
	delay := flag.Duration("delay", 50*time.Millisecond, "how long each request waits before it is forwarded")
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
	srv := &http.Server{Handler: New(u, *delay), ReadHeaderTimeout: time.Minute, ErrorLog: log.New(io.Discard, "", 0)}
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
