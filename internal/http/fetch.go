package http

import (
	"context"
	"fmt"
	"io"
	nethttp "net/http"
	"net/url"
	"os"
	"strings"
)

// ReadURL reads a small document (an index, a checksum) from an http(s)://
// or file:// URL or a local path, refusing more than limit bytes.
func ReadURL(ctx context.Context, hc *nethttp.Client, rawURL string, limit int64) ([]byte, error) {
	var r io.Reader
	switch {
	case strings.HasPrefix(rawURL, "http://"), strings.HasPrefix(rawURL, "https://"):
		req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, rawURL, nil)
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != nethttp.StatusOK {
			return nil, &StatusError{URL: rawURL, Code: resp.StatusCode}
		}
		r = resp.Body
	default:
		path := rawURL
		if strings.HasPrefix(rawURL, "file://") {
			u, err := url.Parse(rawURL)
			if err != nil {
				return nil, err
			}
			path = u.Path
		} else if strings.Contains(rawURL, "://") {
			return nil, fmt.Errorf("unsupported URL scheme in %q (use https://, http://, file:// or a path)", rawURL)
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", rawURL, limit)
	}
	return data, nil
}

// StatusError is an HTTP answer other than 200.
type StatusError struct {
	URL  string
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.URL, e.Code, nethttp.StatusText(e.Code))
}
