package http

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrUnsupportedBackend is returned for an index backend ReadURL cannot
// fetch from.
var ErrUnsupportedBackend = errors.New("not supported")

// IndexBackends are falcoctl's index backends: the optional third argument of
// `falcoctl index add` and the indexes[].backend config key.
var IndexBackends = []string{"http", "https", "file", "gcs", "s3"}

// CheckIndexBackend reports whether ReadURL can fetch rawURL as falcoctl
// would with backend (case-insensitive; "" means: guessed from the URL's
// scheme, as falcoctl guesses it). ferry fetches http, https and file
// indexes; gcs and s3 (also gs:// and s3:// URLs) are refused, naming the
// backend, as is a backend that does not fit the URL.
func CheckIndexBackend(rawURL, backend string) error {
	b := strings.ToLower(backend)
	scheme := ""
	if u, err := url.Parse(rawURL); err == nil && strings.Contains(rawURL, "://") {
		scheme = strings.ToLower(u.Scheme)
	}
	if b == "" {
		switch scheme {
		case "gs":
			b = "gcs"
		case "s3":
			b = "s3"
		default:
			return nil
		}
	}
	switch b {
	case "http", "https":
		if scheme != "http" && scheme != "https" {
			return fmt.Errorf("index backend %q needs an http:// or https:// URL, not %q", backend, rawURL)
		}
	case "file":
		if scheme != "" && scheme != "file" {
			return fmt.Errorf("index backend %q needs a file:// URL or a path, not %q", backend, rawURL)
		}
	case "gcs", "s3":
		name := backend
		if name == "" {
			name = b
		}
		return fmt.Errorf("index backend %q is %w: ferry fetches indexes over http, https and from files; serve %s over HTTPS (or copy it to a file) and add that URL", name, ErrUnsupportedBackend, rawURL)
	default:
		return fmt.Errorf("index backend %q is %w (falcoctl's backends are %s)", backend, ErrUnsupportedBackend, strings.Join(IndexBackends, ", "))
	}
	return nil
}
