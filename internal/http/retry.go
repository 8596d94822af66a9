package http

import (
	"math/rand/v2"
	nethttp "net/http"
	"strconv"
	"time"

	"oras.land/oras-go/v2/registry/remote/retry"
)

// Retry settings: up to five retries, exponential backoff from 250ms with
// 10% jitter, and a server's Retry-After (on 429 and 503) honoured up to
// maxRetryWait.
const (
	maxRetries   = 5
	baseBackoff  = 250 * time.Millisecond
	maxRetryWait = 30 * time.Second
)

// retryPolicy is oras-go's generic policy (5xx, 429, 408, dial timeouts,
// resets) with a backoff that also honours Retry-After on 503.
func retryPolicy() retry.Policy {
	return &retry.GenericPolicy{
		Retryable: retry.DefaultPredicate,
		Backoff:   backoff,
		MinWait:   0,
		MaxWait:   maxRetryWait,
		MaxRetry:  maxRetries,
	}
}

func backoff(attempt int, resp *nethttp.Response) time.Duration {
	if resp != nil && (resp.StatusCode == nethttp.StatusTooManyRequests || resp.StatusCode == nethttp.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return d
		}
	}
	d := float64(baseBackoff) * float64(uint(1)<<min(attempt, 16))
	return time.Duration(d*0.9 + rand.Float64()*d*0.2)
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
