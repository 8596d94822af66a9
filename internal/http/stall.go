package http

import (
	"context"
	"fmt"
	"io"
	"net/http/httptrace"
	"net/url"
	"sync"
	"time"

	nethttp "net/http"
)

// StallError is a request that got no answer in time: no connection (to the
// host or through the proxy), no response headers, or a body that stopped
// delivering. It is a timeout (net.Error), so it is retried.
type StallError struct {
	// Phase is "connect", "tls", "proxy", "upload", "response" or "body".
	Phase string
	// Host is the host:port asked for, Proxy the proxy's host:port ("" when
	// none is used).
	Host, Proxy string
	// After is the bound that ran out; Flag the option that sets it.
	After time.Duration
	Flag  string
}

func (e *StallError) Error() string {
	via := ""
	if e.Proxy != "" {
		via = " via proxy " + e.Proxy
	}
	var what string
	switch e.Phase {
	case "proxy":
		what = fmt.Sprintf("no answer from proxy %s to CONNECT %s within %s", e.Proxy, e.Host, e.After)
	case "connect":
		if e.Proxy != "" {
			what = fmt.Sprintf("could not connect to proxy %s (for %s) within %s", e.Proxy, e.Host, e.After)
		} else {
			what = fmt.Sprintf("could not connect to %s within %s", e.Host, e.After)
		}
	case "tls":
		what = fmt.Sprintf("TLS handshake with %s%s did not finish within %s", e.Host, via, e.After)
	case "upload":
		what = fmt.Sprintf("%s%s took no data of the request body for %s: upload stalled", e.Host, via, e.After)
	case "response":
		what = fmt.Sprintf("no response headers from %s%s within %s", e.Host, via, e.After)
	default:
		what = fmt.Sprintf("no data from %s%s for %s: connection stalled", e.Host, via, e.After)
	}
	return what + " (" + e.Flag + ")"
}

// Timeout makes a stall a net.Error timeout.
func (e *StallError) Timeout() bool { return true }

// Temporary is part of net.Error.
func (e *StallError) Temporary() bool { return true }

// phases bounds each phase of one attempt: connecting (TCP, a proxy's
// CONNECT, TLS) by connect, every pause in sending a request body by idle,
// the wait for response headers by response, and every silence in the
// response body by idle. Large, slow but steady uploads and downloads are
// not cut off. A bound that runs out ends the attempt with a *StallError
// that names the host and the proxy.
type phases struct {
	next                    nethttp.RoundTripper
	connect, response, idle time.Duration
	proxy                   func(*nethttp.Request) (*url.URL, error)
}

func (p *phases) RoundTrip(req *nethttp.Request) (*nethttp.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	a := &attempt{p: p, host: hostPort(req.URL), phase: "connect", w: &watch{cancel: cancel}}
	if p.proxy != nil {
		if u, err := p.proxy(req); err == nil && u != nil {
			a.proxy = hostPort(u)
		}
	}
	a.w.arm(p.connect, func() error {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.stall(a.phase, p.connect, "--connect-timeout")
	})
	out := req.WithContext(httptrace.WithClientTrace(ctx, a.trace(req)))
	if a.upload != nil {
		out.Body = a.upload
	}
	resp, err := p.next.RoundTrip(out)
	if a.upload != nil {
		a.upload.finish()
	}
	a.w.disarm()
	if cause := a.w.fired(); cause != nil {
		// The bound ran out, possibly just as the answer came.
		if err == nil {
			resp.Body.Close()
		}
		cancel(nil)
		return nil, cause
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	b := &idleBody{rc: resp.Body, cancel: cancel, idle: p.idle, stall: a.stall("body", p.idle, "--idle-timeout")}
	b.timer = time.AfterFunc(p.idle, b.expire)
	resp.Body = b
	return resp, nil
}

// attempt is one request through phases: where it is going, which
// connecting phase it is in, its watch, and its upload when it has a body.
type attempt struct {
	p           *phases
	host, proxy string
	w           *watch
	mu          sync.Mutex // guards phase
	phase       string     // "connect", "proxy" or "tls", while connecting
	upload      *uploadBody
}

func (a *attempt) stall(phase string, after time.Duration, flag string) error {
	return &StallError{Phase: phase, Host: a.host, Proxy: a.proxy, After: after, Flag: flag}
}

func (a *attempt) setPhase(ph string) {
	a.mu.Lock()
	a.phase = ph
	a.mu.Unlock()
}

func (a *attempt) waitHeaders() {
	a.w.arm(a.p.response, func() error { return a.stall("response", a.p.response, "--response-timeout") })
}

// trace moves the watch from phase to phase as the request goes: the
// connecting phases, the upload of a body, the wait for headers. It sets
// a.upload for a request with a body.
func (a *attempt) trace(req *nethttp.Request) *httptrace.ClientTrace {
	if req.Body != nil && req.Body != nethttp.NoBody {
		a.upload = &uploadBody{ReadCloser: req.Body, w: a.w, idle: a.p.idle, stall: func() error {
			return a.stall("upload", a.p.idle, "--idle-timeout")
		}}
	}
	return &httptrace.ClientTrace{
		ConnectDone: func(_, _ string, err error) {
			if err == nil && a.proxy != "" && req.URL.Scheme == "https" {
				a.setPhase("proxy")
			}
		},
		TLSHandshakeStart: func() { a.setPhase("tls") },
		GotConn: func(httptrace.GotConnInfo) {
			if a.upload != nil {
				// An upload may take long to write, so long as the
				// server keeps taking it; the wait for headers starts
				// once it is written.
				a.upload.start()
				return
			}
			a.waitHeaders()
		},
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if a.upload != nil {
				a.upload.finish()
				if info.Err == nil {
					a.waitHeaders()
				}
			}
		},
	}
}

// uploadBody bounds the pauses of an upload: from the connection on, while
// the transport holds the bytes it last read (writing them to a server
// that does not take them), idle runs on the attempt's watch; while the
// transport waits on the body's own Read (the data is being produced), it
// does not. Once the request is written, or the attempt is over, it no
// longer touches the watch.
type uploadBody struct {
	io.ReadCloser
	w     *watch
	idle  time.Duration
	stall func() error
	mu    sync.Mutex
	on    bool // between start and finish
	done  bool
}

func (b *uploadBody) start() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.on = true
		b.w.arm(b.idle, b.stall)
	}
}

func (b *uploadBody) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.on, b.done = false, true
}

func (b *uploadBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.on {
		b.w.disarm()
	}
	b.mu.Unlock()
	n, err := b.ReadCloser.Read(p)
	b.mu.Lock()
	if b.on {
		b.w.arm(b.idle, b.stall)
	}
	b.mu.Unlock()
	return n, err
}

// watch runs one phase timer at a time; when it fires, the attempt's
// context is cancelled with the phase's error.
type watch struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel context.CancelCauseFunc
	cause  error
}

func (w *watch) arm(d time.Duration, stall func() error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.timer = time.AfterFunc(d, func() {
		err := stall()
		w.mu.Lock()
		w.cause = err
		w.mu.Unlock()
		w.cancel(err)
	})
}

func (w *watch) disarm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
}

func (w *watch) fired() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cause
}

// hostPort is u's host with the scheme's default port made explicit.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	switch u.Scheme {
	case "https":
		return u.Host + ":443"
	case "http":
		return u.Host + ":80"
	}
	return u.Host
}
