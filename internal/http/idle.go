package http

import (
	"context"
	"io"
	"sync"
	"time"
)

// idleBody fails a response body that delivers nothing for idle, so a
// stalled connection ends in an error (which a resuming reader or the next
// channel then handles) instead of a hang.
type idleBody struct {
	rc     io.ReadCloser
	cancel context.CancelCauseFunc
	idle   time.Duration
	stall  error
	timer  *time.Timer
	once   sync.Once
	mu     sync.Mutex
	err    error
}

func (b *idleBody) expire() {
	b.mu.Lock()
	b.err = b.stall
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
