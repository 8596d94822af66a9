package events

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cecontext "github.com/cloudevents/sdk-go/v2/context"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"go.uber.org/zap"
)

// One delivery: up to maxAttempts requests, retryDelay apart, doubling,
// all within the Emitter's timeout.
const (
	maxAttempts = 3
	retryDelay  = 100 * time.Millisecond
)

type outcome int

const (
	delivered outcome = iota // 2xx
	rejected                 // a 4xx about this event: the sink is up
	failed                   // the sink is down, unreachable or refuses everything
)

// sender is the CloudEvents client shared by every sink of an Emitter; the
// target, headers and content mode are set per request.
type sender struct {
	client cloudevents.Client
	logger *zap.SugaredLogger
}

func (e *Emitter) getSender() (*sender, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sender != nil {
		return e.sender, nil
	}
	hc := e.hc
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	p, err := cehttp.New(cehttp.WithClient(*hc))
	if err != nil {
		return nil, fmt.Errorf("setting up the cloudevents http protocol: %w", err)
	}
	c, err := cloudevents.NewClient(p)
	if err != nil {
		return nil, fmt.Errorf("setting up the cloudevents client: %w", err)
	}
	// The sdk logs through the context's zap logger, else to stderr.
	e.sender = &sender{client: c, logger: zap.NewNop().Sugar()}
	return e.sender, nil
}

// deliverNew sends a new event to s, after s's spool backlog; what is not
// acknowledged is spooled. It returns a warning or "".
func (e *Emitter) deliverNew(ctx context.Context, s *sink, ev *cloudevents.Event, raw []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return e.spoolWarning(s, ev, raw, 0, "")
	}
	var warnings []string
	if !s.drained {
		s.drained = true
		_, w, ok := e.drain(ctx, s, true)
		if w != "" {
			warnings = append(warnings, w)
		}
		if !ok {
			warnings = append(warnings, e.spoolWarning(s, ev, raw, 0, ""))
			return join(warnings)
		}
	}
	out, err := e.send(ctx, s, ev, s.Headers, s.Binary)
	switch out {
	case rejected:
		if w := e.spoolWarning(s, ev, raw, 1, err.Error()); w != "" {
			warnings = append(warnings, w)
		} else {
			warnings = append(warnings, fmt.Sprintf("events: %s rejected event %s: %v; it stays in %s", s.URL, ev.ID(), err, e.spoolDir))
		}
	case failed:
		s.down = true
		if w := e.spoolWarning(s, ev, raw, 1, err.Error()); w != "" {
			warnings = append(warnings, fmt.Sprintf("events: %s: %v", s.URL, err), w)
		} else {
			warnings = append(warnings, fmt.Sprintf("events: %s: %v; events for it are spooled in %s for later delivery", s.URL, err, e.spoolDir))
		}
	}
	return join(warnings)
}

// spoolWarning spools ev for s and returns "" or, when that fails, the
// warning that the event is lost.
func (e *Emitter) spoolWarning(s *sink, ev *cloudevents.Event, raw []byte, attempts int, lastErr string) string {
	if err := e.spool(s, ev, raw, attempts, lastErr); err != nil {
		return fmt.Sprintf("events: event %s for %s is lost: %v", ev.ID(), s.URL, err)
	}
	return ""
}

// drain sends s's spooled entries, oldest first, under s's spool lock.
// bounded limits the wait for the lock to the timeout. ok is false when
// the sink failed (it is then marked down).
func (e *Emitter) drain(ctx context.Context, s *sink, bounded bool) (n int, warning string, ok bool) {
	if e.spoolDir == "" || !hasSinkFiles(e.spoolDir, s.key) {
		return 0, "", true
	}
	lctx := ctx
	if bounded {
		var cancel context.CancelFunc
		lctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	unlock, err := lockSink(lctx, e.spoolDir, s.key)
	if err != nil {
		s.down = true
		return 0, fmt.Sprintf("events: %s: %v", s.URL, err), false
	}
	defer unlock()
	entries, err := list(e.spoolDir, s.key)
	if err != nil {
		s.down = true
		return 0, fmt.Sprintf("events: %s: %v", s.URL, err), false
	}
	var nrej int
	var lastRej error
	for _, en := range entries {
		if en.Sink != s.URL {
			continue
		}
		ev, err := en.event()
		if err != nil {
			nrej++
			lastRej = err
			continue
		}
		hdrs, bin := s.Headers, s.Binary
		if !s.configured {
			hdrs, bin = en.Headers, en.Binary
		}
		out, err := e.send(ctx, s, ev, hdrs, bin)
		switch out {
		case delivered:
			if err := os.Remove(en.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.down = true
				return n, fmt.Sprintf("events: event %s reached %s but its spool file stays (it will be sent again): %v", ev.ID(), s.URL, err), false
			}
			n++
		case rejected:
			nrej++
			lastRej = err
			_ = e.updateEntry(en, err)
		case failed:
			_ = e.updateEntry(en, err)
			s.down = true
			return n, fmt.Sprintf("events: %s: %v; spooled events stay in %s for later delivery", s.URL, err, e.spoolDir), false
		}
	}
	if nrej > 0 {
		warning = fmt.Sprintf("events: %s rejected %d spooled event(s) (last: %v); they stay in %s", s.URL, nrej, lastRej, e.spoolDir)
	}
	return n, warning, true
}

// send delivers ev to s once, retrying what may pass on a second try, all
// within the timeout.
func (e *Emitter) send(ctx context.Context, s *sink, ev *cloudevents.Event, headers map[string]string, binary bool) (outcome, error) {
	snd, err := e.getSender()
	if err != nil {
		return failed, err
	}
	h, err := expandHeaders(headers, e.getenv)
	if err != nil {
		return failed, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	ctx = cecontext.WithLogger(ctx, snd.logger)
	ctx = cloudevents.ContextWithTarget(ctx, s.URL)
	if binary {
		ctx = cloudevents.WithEncodingBinary(ctx)
	} else {
		ctx = cloudevents.WithEncodingStructured(ctx)
	}
	delay := retryDelay
	for attempt := 1; ; attempt++ {
		actx := ctx
		if h != nil {
			actx = cehttp.WithCustomHeader(ctx, h.Clone())
		}
		res := snd.client.Send(actx, *ev)
		if cloudevents.IsACK(res) {
			return delivered, nil
		}
		code := statusCode(res)
		err := describe(ctx, res, code, e.timeout)
		switch {
		case ctx.Err() != nil:
			return failed, err
		case code != 0 && !retryable(code):
			if sinkFault(code) {
				return failed, err
			}
			return rejected, err
		case attempt == maxAttempts:
			return failed, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return failed, err
		case <-t.C:
		}
		delay *= 2
	}
}

func statusCode(res error) int {
	var rr *cehttp.RetriesResult
	if errors.As(res, &rr) {
		res = rr.Result
	}
	var hr *cehttp.Result
	if errors.As(res, &hr) {
		return hr.StatusCode
	}
	return 0
}

func describe(ctx context.Context, res error, code int, timeout time.Duration) error {
	switch {
	case code != 0:
		return fmt.Errorf("HTTP %d %s", code, http.StatusText(code))
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("no answer within %s", timeout)
	case ctx.Err() != nil:
		return fmt.Errorf("not sent: %w", context.Cause(ctx))
	default:
		return res
	}
}

// retryable statuses may pass on a later attempt.
func retryable(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooEarly ||
		code == http.StatusTooManyRequests || code >= 500
}

// sinkFault statuses say the sink refuses every event (wrong URL or
// credentials), not this one.
func sinkFault(code int) bool {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed:
		return true
	}
	return code < 200 || (code >= 300 && code < 400)
}

func join(ws []string) string {
	var out []string
	for _, w := range ws {
		if w != "" {
			out = append(out, w)
		}
	}
	return strings.Join(out, "; ")
}
