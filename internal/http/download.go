package http

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"strings"

	"github.com/ferryhq/ferry/internal/fsutil"
	"github.com/ferryhq/ferry/pkg/errdef"
)

// Errors a download can end with; test them with errors.Is. A *StatusError
// matches ErrNotFound (404, 410), ErrUnauthorized (401, 403) or ErrServer
// (5xx).
var (
	// ErrNotFound: the server answered 404 or 410.
	ErrNotFound = errdef.New(errdef.ErrNotFound, "not found")
	// ErrUnauthorized: the server answered 401 or 403, as a registry does
	// when credentials are missing or refused (exit code 4).
	ErrUnauthorized = errdef.New(errdef.ErrUnauthorized, "unauthorized")
	// ErrServer: the server answered 5xx (after the client's retries).
	ErrServer = errors.New("server error")
	// ErrNetwork: no answer at all (DNS, refused connection, TLS, timeout,
	// connection cut while reading the body).
	ErrNetwork = errors.New("network error")
	// ErrTooLarge: the body is larger than the limit (a *TooLargeError).
	ErrTooLarge = errors.New("too large")
	// ErrDigestMismatch: what was received does not have the expected digest.
	ErrDigestMismatch = errdef.New(errdef.ErrDigestMismatch, "digest mismatch")
)

// Is makes a StatusError match ErrNotFound, ErrUnauthorized or ErrServer,
// and so their kinds (errdef).
func (e *StatusError) Is(target error) bool {
	switch {
	case e.Code == nethttp.StatusNotFound || e.Code == nethttp.StatusGone:
		return errors.Is(ErrNotFound, target)
	case e.Code == nethttp.StatusUnauthorized || e.Code == nethttp.StatusForbidden:
		return errors.Is(ErrUnauthorized, target)
	case e.Code >= 500:
		return target == ErrServer
	}
	return false
}

// TooLargeError is a body larger than DownloadOptions.Limit. It matches
// ErrTooLarge.
type TooLargeError struct {
	URL string
	// Size is the body's length as the server announced it, or -1 when it
	// did not and the limit was passed while reading.
	Size  int64
	Limit int64
}

func (e *TooLargeError) Error() string {
	if e.Size < 0 {
		return fmt.Sprintf("GET %s: %v: more than %d bytes", e.URL, ErrTooLarge, e.Limit)
	}
	return fmt.Sprintf("GET %s: %v: %d bytes, the limit is %d", e.URL, ErrTooLarge, e.Size, e.Limit)
}

// Is makes a TooLargeError match ErrTooLarge.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// DownloadOptions tune a download. The zero value downloads anything, of any
// size, unverified.
type DownloadOptions struct {
	// Limit refuses bodies larger than this many bytes (0: no limit).
	Limit int64
	// SHA256 is the expected digest, as hex (optionally "sha256:"-prefixed);
	// the body is hashed while it streams and a mismatch is ErrDigestMismatch.
	SHA256 string
	// Header is added to the request (e.g. authorization for a private repo).
	Header nethttp.Header
	// Check, if set, is called by DownloadFile once the whole body is on disk
	// and before it is moved into place; an error keeps it out.
	Check func(Downloaded) error
}

// Downloaded describes a finished download.
type Downloaded struct {
	URL    string `json:"url"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex digest of the bytes received
}

// Download GETs rawURL and streams the body into w, hashing it as it goes.
// Errors match ErrNotFound, ErrUnauthorized, ErrServer, ErrNetwork,
// ErrTooLarge or ErrDigestMismatch; on error, w may have received part of the body.
func Download(ctx context.Context, hc *nethttp.Client, rawURL string, w io.Writer, opts DownloadOptions) (Downloaded, error) {
	want, err := normalizeSHA256(opts.SHA256)
	if err != nil {
		return Downloaded{}, err
	}
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, rawURL, nil)
	if err != nil {
		return Downloaded{}, fmt.Errorf("GET %s: %w", rawURL, err)
	}
	for k, vs := range opts.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Downloaded{}, networkError(ctx, rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != nethttp.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return Downloaded{}, &StatusError{URL: rawURL, Code: resp.StatusCode}
	}
	if opts.Limit > 0 && resp.ContentLength > opts.Limit {
		return Downloaded{}, &TooLargeError{URL: rawURL, Size: resp.ContentLength, Limit: opts.Limit}
	}
	h := sha256.New()
	var body io.Reader = resp.Body
	if opts.Limit > 0 {
		body = io.LimitReader(resp.Body, opts.Limit+1)
	}
	n, err := io.Copy(io.MultiWriter(&errWriter{w: w}, h), body)
	if err != nil {
		var we *writeError
		if errors.As(err, &we) {
			return Downloaded{}, fmt.Errorf("GET %s: writing: %w", rawURL, we.err)
		}
		return Downloaded{}, networkError(ctx, rawURL, err)
	}
	if opts.Limit > 0 && n > opts.Limit {
		return Downloaded{}, &TooLargeError{URL: rawURL, Size: -1, Limit: opts.Limit}
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return Downloaded{}, fmt.Errorf("GET %s: %w: body cut at %d of %d bytes", rawURL, ErrNetwork, n, resp.ContentLength)
	}
	got := Downloaded{URL: rawURL, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	if want != "" && got.SHA256 != want {
		return got, fmt.Errorf("GET %s: %w: got sha256:%s, want sha256:%s", rawURL, ErrDigestMismatch, got.SHA256, want)
	}
	return got, nil
}

// DownloadFile downloads rawURL into path atomically (fsutil.ReplaceFile):
// the body goes to a temporary file beside path, which is checked (digest,
// then opts.Check), synced and renamed over path. On any error path is left
// as it was. The directory of path is created if needed.
func DownloadFile(ctx context.Context, hc *nethttp.Client, rawURL, path string, perm os.FileMode, opts DownloadOptions) (Downloaded, error) {
	var got Downloaded
	err := fsutil.ReplaceFile(path, perm, func(w io.Writer) error {
		var err error
		if got, err = Download(ctx, hc, rawURL, w, opts); err != nil {
			return err
		}
		if opts.Check != nil {
			return opts.Check(got)
		}
		return nil
	})
	return got, err
}

// ParseSHA256Sum reads a sha256sum-format checksum ("HEX", or "HEX  NAME"
// lines) and returns the first digest.
func ParseSHA256Sum(data []byte) (string, error) {
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return "", errors.New("empty checksum file")
	}
	return normalizeSHA256(fields[0])
}

func normalizeSHA256(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	s = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "sha256:"))
	if len(s) != sha256.Size*2 {
		return "", fmt.Errorf("invalid sha256 %q: want 64 hex digits", s)
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", fmt.Errorf("invalid sha256 %q: want 64 hex digits", s)
	}
	return s, nil
}

// NormalizeSHA256 validates a hex sha256 digest (optionally "sha256:"
// prefixed) and returns it lowercased without the prefix.
func NormalizeSHA256(s string) (string, error) { return normalizeSHA256(s) }

func networkError(ctx context.Context, rawURL string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("GET %s: %w", rawURL, ctx.Err())
	}
	// The server answered, and the retries stopped: not the network.
	var ex *exhaustedError
	var ra *RetryAfterError
	if errors.As(err, &ex) {
		return fmt.Errorf("GET %s: %w", rawURL, ex)
	}
	if errors.As(err, &ra) {
		return fmt.Errorf("GET %s: %w", rawURL, ra)
	}
	return fmt.Errorf("GET %s: %w: %w", rawURL, ErrNetwork, err)
}

// errWriter marks write errors so they are not taken for network errors.
type errWriter struct{ w io.Writer }

type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		return n, &writeError{err}
	}
	return n, nil
}
