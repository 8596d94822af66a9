package http

import (
	"context"
	"fmt"
	"io"
	nethttp "net/http"
	"sync"
	"time"
)

// idleTimeout fails a response body that delivers nothing for too long, so a
// stalled connection ends in an error (which a resuming reader or the next
// channel then handles) instead of a hang. Large, slow but steady downloads
// are not cut off.
type idleTimeout struct {
	next nethttp.RoundTripper
	idle time.Duration
}

func (t *idleTimeout) RoundTrip(req *nethttp.Request) (*nethttp.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel(nil)
		return nil, err
	}
	b := &idleBody{rc: resp.Body, cancel: cancel, idle: t.idle}
	b.timer = time.AfterFunc(t.idle, b.expire)
	resp.Body = b
	return resp, nil
}

type idleBody struct {
	rc     io.ReadCloser
	cancel context.CancelCauseFunc
	idle   time.Duration
	timer  *time.Timer
	once   sync.Once
	mu     sync.Mutex
	err    error
}

func (b *idleBody) expire() {
	b.mu.Lock()
	b.err = fmt.Errorf("no data received for %s: connection stalled", b.idle)
	b.mu.Unlock()
	b.cancel(b.err)
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF {
		b.mu.Lock()
		if b.err != nil {
			err = b.err
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.once.Do(func() {
		b.timer.Stop()
		b.cancel(nil)
	})
	return b.rc.Close()
}
