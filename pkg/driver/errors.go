package driver

import (
	"errors"
	"fmt"
	nethttp "net/http"
	"strings"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/errdef"
)

var (
	// ErrNotFound means no repository has a prebuilt driver for the target.
	ErrNotFound = errdef.New(errdef.ErrNotFound, "no prebuilt driver found")
	// ErrDigestMismatch means a downloaded or cached driver does not have the
	// expected digest. It is errdef's, which every digest mismatch matches.
	ErrDigestMismatch = errdef.ErrDigestMismatch
	// ErrUnsupported means the host's distribution could not be determined, or no
	// requested driver type works on its kernel.
	ErrUnsupported = errdef.New(errdef.ErrNotFound, "unsupported target")
	// ErrLoad means the kernel module could not be loaded or unloaded.
	ErrLoad = errors.New("loading the kernel module failed")
)

// Attempt is one repository tried for a driver.
type Attempt struct {
	URL string `json:"url"`
	// Error says why the repository did not serve the driver.
	Error string `json:"error"`
	// NotFound is true when the repository answered 404 (or 410).
	NotFound bool `json:"notFound"`
	err      error
}

// DownloadError lists the URLs tried when no repository served the driver.
// It matches ErrNotFound when every repository answered "not found".
type DownloadError struct {
	// What names the driver, e.g. "falco kmod driver 8.0.0+driver for debian 6.1.38-2-cloud-amd64 (1)".
	What     string
	Attempts []Attempt
}

func (e *DownloadError) allNotFound() bool {
	for _, a := range e.Attempts {
		if !a.NotFound {
			return false
		}
	}
	return len(e.Attempts) > 0
}

func (e *DownloadError) Error() string {
	var b strings.Builder
	if e.allNotFound() {
		fmt.Fprintf(&b, "no prebuilt %s in any repository; tried:", e.What)
	} else {
		fmt.Fprintf(&b, "could not download the %s; tried:", e.What)
	}
	for i, a := range e.Attempts {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %s (%s)", a.URL, a.Error)
	}
	return b.String()
}

// Is makes the error match ErrNotFound when nothing was found anywhere.
func (e *DownloadError) Is(target error) bool {
	return e.allNotFound() && errors.Is(ErrNotFound, target)
}

// Unwrap returns each attempt's error.
func (e *DownloadError) Unwrap() []error {
	var errs []error
	for _, a := range e.Attempts {
		if a.err != nil {
			errs = append(errs, a.err)
		}
	}
	return errs
}

func newAttempt(url string, err error) Attempt {
	a := Attempt{URL: url, NotFound: errors.Is(err, ferryhttp.ErrNotFound), err: err}
	var se *ferryhttp.StatusError
	if errors.As(err, &se) {
		a.Error = fmt.Sprintf("%d %s", se.Code, nethttp.StatusText(se.Code))
	} else {
		a.Error = strings.TrimPrefix(err.Error(), "GET "+url+": ")
	}
	return a
}
