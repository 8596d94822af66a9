package http

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	nethttp "net/http"
	"net/url"
	"strconv"
	"time"

	"oras.land/oras-go/v2/registry/remote/retry"
)

// Retry defaults: up to five retries, exponential backoff from 250ms with
// 10% jitter; a server's Retry-After (on 429 and 503) is honoured up to
// RetryMaxWait, and no retry starts RetryTimeout after the first attempt.
const (
	maxRetries          = 5
	baseBackoff         = 250 * time.Millisecond
	DefaultRetryMaxWait = 30 * time.Second
	DefaultRetryTimeout = 60 * time.Second
	// warnWait is the wait (or stalled attempt) above which a retry is
	// logged as a warning rather than at info level.
	warnWait = 5 * time.Second
)

// RetryAfterError is a server asking to come back later than ferry waits.
type RetryAfterError struct {
	Host   string
	Status int
	// After is what the server asked for; Limit what ferry waits at most;
	// Flag the option that sets Limit.
	After, Limit time.Duration
	Flag         string
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%s answered %d %s with Retry-After %s, longer than the %s %s allows: giving up",
		e.Host, e.Status, nethttp.StatusText(e.Status), e.After, e.Limit, e.Flag)
}

// Is makes a 5xx RetryAfterError match ErrServer.
func (e *RetryAfterError) Is(target error) bool { return target == ErrServer && e.Status >= 500 }

// exhaustedError is a status answer that would be retried but for the
// --retry-timeout budget: the server's answer, not a network failure.
type exhaustedError struct {
	host   string
	code   int
	status string
	note   string
}

func (e *exhaustedError) Error() string { return e.host + " answered " + e.status + "; " + e.note }

// Is makes a 5xx exhaustedError match ErrServer.
func (e *exhaustedError) Is(target error) bool { return target == ErrServer && e.code >= 500 }

// giveUpError is the last attempt's error and why no retry follows. It is
// a timeout when that error is, so callers still see a stall as one.
type giveUpError struct {
	err  error
	note string
}

func (e *giveUpError) Error() string { return e.err.Error() + "; " + e.note }
func (e *giveUpError) Unwrap() error { return e.err }

// Timeout reports whether the last attempt timed out.
func (e *giveUpError) Timeout() bool {
	var ne net.Error
	return errors.As(e.err, &ne) && ne.Timeout()
}

// Temporary is part of net.Error.
func (e *giveUpError) Temporary() bool { return e.Timeout() }

// retrier retries a request on 5xx, 408, 429, timeouts (stalls included)
// and resets, with backoff, within a bounded number of attempts and time,
// logging one line per retry.
type retrier struct {
	next    nethttp.RoundTripper
	maxWait time.Duration
	budget  time.Duration
	log     *slog.Logger
}

func (r *retrier) RoundTrip(req *nethttp.Request) (*nethttp.Response, error) {
	ctx := req.Context()
	start := time.Now()
	for attempt := 0; ; attempt++ {
		began := time.Now()
		resp, err := r.next.RoundTrip(req)
		again, perr := retry.DefaultPredicate(resp, err)
		if perr != nil || !again {
			return resp, err
		}
		if attempt >= maxRetries {
			if err != nil {
				return nil, &giveUpError{err: err, note: fmt.Sprintf("giving up after %d attempts in %s", attempt+1, round(time.Since(start)))}
			}
			return resp, nil
		}
		wait, asked := backoff(attempt, resp)
		if asked && wait > r.maxWait {
			resp.Body.Close()
			return nil, &RetryAfterError{Host: hostPort(req.URL), Status: resp.StatusCode, After: wait, Limit: r.maxWait, Flag: "--retry-max-wait"}
		}
		if elapsed := time.Since(start); elapsed+wait > r.budget {
			giveUp := fmt.Sprintf("giving up after %d attempts in %s (a retry in %s would pass the %s --retry-timeout allows)", attempt+1, round(elapsed), round(wait), r.budget)
			if err != nil {
				return nil, &giveUpError{err: err, note: giveUp}
			}
			resp.Body.Close()
			return nil, &exhaustedError{host: hostPort(req.URL), code: resp.StatusCode, status: resp.Status, note: giveUp}
		}
		if req.Body != nil && req.Body != nethttp.NoBody {
			if req.GetBody == nil {
				return resp, err
			}
			body, gerr := req.GetBody()
			if gerr != nil {
				return resp, err
			}
			req.Body = body
		}
		r.logRetry(ctx, req, resp, err, attempt, wait, time.Since(began))
		if err == nil {
			resp.Body.Close()
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, context.Cause(ctx)
		case <-timer.C:
		}
	}
}

func (r *retrier) logRetry(ctx context.Context, req *nethttp.Request, resp *nethttp.Response, err error, attempt int, wait, took time.Duration) {
	if r.log == nil {
		return
	}
	level := slog.LevelInfo
	var stall *StallError
	if wait >= warnWait || took >= warnWait || errors.As(err, &stall) {
		level = slog.LevelWarn
	}
	reason := ""
	if err != nil {
		reason = err.Error()
	} else {
		reason = hostPort(req.URL) + " answered " + resp.Status
	}
	r.log.Log(ctx, level, fmt.Sprintf("%s; retry %d of %d in %s", reason, attempt+1, maxRetries, round(wait)),
		"request", req.Method+" "+redactURL(req.URL))
}

func round(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// backoff is the wait before retry attempt+1: the server's Retry-After on
// 429 and 503 (asked is then true), else exponential with jitter.
func backoff(attempt int, resp *nethttp.Response) (wait time.Duration, asked bool) {
	if resp != nil && (resp.StatusCode == nethttp.StatusTooManyRequests || resp.StatusCode == nethttp.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return d, true
		}
	}
	d := float64(baseBackoff) * float64(uint(1)<<min(attempt, 16))
	return time.Duration(d*0.9 + rand.Float64()*d*0.2), false
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := nethttp.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// redactURL is u without credentials or query (tokens may ride in either).
func redactURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery = nil, ""
	return c.String()
}
