package http

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	nethttp "net/http"
	"os"
	"sync"
	"time"
)

// HostConfig holds the TLS settings for one registry or mirror host.
type HostConfig struct {
	CAFile             string
	InsecureSkipVerify bool
}

// Options configure a client. The zero value is a usable default.
type Options struct {
	// UserAgent is sent with every request.
	UserAgent string
	// CAFile adds a PEM bundle to the system roots for every host.
	CAFile string
	// InsecureSkipVerify turns off TLS verification for every host.
	InsecureSkipVerify bool
	// Hosts holds per-host TLS settings, keyed by host[:port].
	Hosts map[string]HostConfig
	// ConnectTimeout bounds getting a connection: dialing, a proxy's
	// answer to CONNECT and the TLS handshake (default 10s).
	ConnectTimeout time.Duration
	// ResponseTimeout bounds the wait for response headers once the
	// request is sent (default 30s). Bodies are bounded by IdleTimeout, so
	// large downloads are not cut off.
	ResponseTimeout time.Duration
	// IdleTimeout fails a response body that delivers no byte for this
	// long, and a request body the server takes no byte of for this long
	// (default 60s).
	IdleTimeout time.Duration
	// RetryMaxWait is the longest wait before a retry; a server's
	// Retry-After beyond it ends the request at once (default 30s).
	RetryMaxWait time.Duration
	// RetryTimeout bounds a request's retry cycle: no retry starts later
	// than this after the first attempt (default 60s).
	RetryTimeout time.Duration
	// Logger, when set, gets one line per retry: info level, or warn when
	// the wait or the stalled attempt exceeds a few seconds.
	Logger *slog.Logger
	// NoRetry disables retries (for tests that count requests).
	NoRetry bool
}

// New returns an *http.Client set up as the options say.
func New(opts Options) (*nethttp.Client, error) {
	base, err := newTransport(opts, HostConfig{CAFile: opts.CAFile, InsecureSkipVerify: opts.InsecureSkipVerify})
	if err != nil {
		return nil, err
	}
	var rt nethttp.RoundTripper = base
	if len(opts.Hosts) > 0 {
		hosts := make(map[string]*hostTransport, len(opts.Hosts))
		for host, hc := range opts.Hosts {
			if hc.CAFile == "" {
				hc.CAFile = opts.CAFile
			}
			hc.InsecureSkipVerify = hc.InsecureSkipVerify || opts.InsecureSkipVerify
			hosts[host] = &hostTransport{host: host, opts: opts, conf: hc}
		}
		rt = &perHost{hosts: hosts, fallback: base}
	}
	if opts.UserAgent != "" {
		rt = &userAgent{next: rt, ua: opts.UserAgent}
	}
	rt = &phases{next: rt, proxy: nethttp.ProxyFromEnvironment,
		connect:  orDefault(opts.ConnectTimeout, DefaultConnectTimeout),
		response: orDefault(opts.ResponseTimeout, DefaultResponseTimeout),
		idle:     orDefault(opts.IdleTimeout, DefaultIdleTimeout),
	}
	if !opts.NoRetry {
		rt = &retrier{next: rt, log: opts.Logger,
			maxWait: orDefault(opts.RetryMaxWait, DefaultRetryMaxWait),
			budget:  orDefault(opts.RetryTimeout, DefaultRetryTimeout),
		}
	}
	rt = &headFallback{next: rt}
	return &nethttp.Client{Transport: rt}, nil
}

func newTransport(opts Options, hc HostConfig) (*nethttp.Transport, error) {
	// The phases transport bounds each phase with errors that name host
	// and proxy; these bounds are a backstop for work that outlives a
	// cancelled attempt (a dial goes on to fill the pool).
	connect := orDefault(opts.ConnectTimeout, DefaultConnectTimeout) + time.Second
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: hc.InsecureSkipVerify} //nolint:gosec // only when the user asks for it
	if hc.CAFile != "" {
		pool, err := certPool(hc.CAFile)
		if err != nil {
			return nil, err
		}
		tlsConfig.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &nethttp.Transport{
		Proxy:                 nethttp.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   connect,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		// Blobs are already compressed; asking for gzip would only cost CPU.
		DisableCompression: true,
		// Large reads per syscall matter for multi-GiB blobs.
		ReadBufferSize:  256 << 10,
		WriteBufferSize: 64 << 10,
	}, nil
}

func certPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("reading CA file: " + file + ": no PEM certificate found")
	}
	return pool, nil
}

// Default bounds of a request's phases.
const (
	DefaultConnectTimeout  = 10 * time.Second
	DefaultResponseTimeout = 30 * time.Second
	DefaultIdleTimeout     = 60 * time.Second
)

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// perHost sends each request through its host's transport, or fallback.
type perHost struct {
	hosts    map[string]*hostTransport
	fallback nethttp.RoundTripper
}

func (p *perHost) RoundTrip(req *nethttp.Request) (*nethttp.Response, error) {
	if ht, ok := p.hosts[req.URL.Host]; ok {
		rt, err := ht.get()
		if err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
		return rt.RoundTrip(req)
	}
	return p.fallback.RoundTrip(req)
}

// hostTransport is a host's transport, built on its first request: a CA
// file that cannot be read fails the requests to that host only, not the
// client (and so every command, even one that never contacts the host).
type hostTransport struct {
	host string
	opts Options
	conf HostConfig
	once sync.Once
	rt   *nethttp.Transport
	err  error
}

func (h *hostTransport) get() (*nethttp.Transport, error) {
	h.once.Do(func() {
		h.rt, h.err = newTransport(h.opts, h.conf)
		if h.err != nil {
			h.err = fmt.Errorf("host %s: %w", h.host, h.err)
		}
	})
	return h.rt, h.err
}

type userAgent struct {
	next nethttp.RoundTripper
	ua   string
}

func (u *userAgent) RoundTrip(req *nethttp.Request) (*nethttp.Response, error) {
	if req.Header.Get("User-Agent") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", u.ua)
	}
	return u.next.RoundTrip(req)
}
