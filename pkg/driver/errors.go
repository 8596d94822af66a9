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
	// Unauthorized is true when the repository answered 401 or 403.
	Unauthorized bool `json:"unauthorized,omitempty"`
	err          error
}

// DownloadError lists the URLs tried when no repository served the driver.
// Its kind (errdef) is that of the attempts as a whole: it matches
// ErrNotFound when every repository answered "not found", and
// errdef.ErrUnauthorized when every repository answered "not found" or
// "unauthorized" (401, 403) and at least one answered "unauthorized"; else
// it is of no kind (a server or network failure among them: exit code 1).
type DownloadError struct {
	// What names the driver, e.g. "falco kmod driver 8.0.0+driver for debian 6.1.38-2-cloud-amd64 (1)".
	What     string
	Attempts []Attempt
}

// count returns how many attempts were not found and how many
// unauthorized.
func (e *DownloadError) count() (notFound, unauthorized int) {
	for _, a := range e.Attempts {
		switch {
		case a.NotFound:
			notFound++
		case a.Unauthorized:
			unauthorized++
		}
	}
	return notFound, unauthorized
}

func (e *DownloadError) allNotFound() bool {
	nf, _ := e.count()
	return len(e.Attempts) > 0 && nf == len(e.Attempts)
}

// unauthorized: every attempt not found or refused, at least one refused.
func (e *DownloadError) unauthorized() bool {
	nf, un := e.count()
	return un > 0 && nf+un == len(e.Attempts)
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

// Is makes the error match ErrNotFound when nothing was found anywhere,
// and errdef.ErrUnauthorized when a repository refused and none had
// anything else to say.
func (e *DownloadError) Is(target error) bool {
	switch {
	case e.allNotFound():
		return errors.Is(ErrNotFound, target)
	case e.unauthorized():
		return target == errdef.ErrUnauthorized
	}
	return false
}

// Unwrap returns each attempt's error, for errors.Is and errors.As, with
// its kind (errdef) hidden: one repository's 404 does not make the whole a
// not-found; Is decides the kind.
func (e *DownloadError) Unwrap() []error {
	var errs []error
	for _, a := range e.Attempts {
		if a.err != nil {
			errs = append(errs, kindless{a.err})
		}
	}
	return errs
}

// kindless is an error that matches what it wraps except the kinds.
type kindless struct{ err error }

func (k kindless) Error() string { return k.err.Error() }

func (k kindless) Is(target error) bool { return !hasKind(target) && errors.Is(k.err, target) }

func (k kindless) As(target any) bool { return errors.As(k.err, target) }

// hasKind reports whether err is, or matches, one of errdef's kinds.
func hasKind(err error) bool {
	for _, k := range []error{errdef.ErrInvalid, errdef.ErrNotFound, errdef.ErrUnauthorized, errdef.ErrVerification} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

func newAttempt(url string, err error) Attempt {
	a := Attempt{URL: url, NotFound: errors.Is(err, ferryhttp.ErrNotFound), Unauthorized: errors.Is(err, ferryhttp.ErrUnauthorized), err: err}
	var se *ferryhttp.StatusError
	if errors.As(err, &se) && se.URL == url {
		a.Error = fmt.Sprintf("%d %s", se.Code, nethttp.StatusText(se.Code))
	} else {
		a.Error = strings.TrimPrefix(err.Error(), "GET "+url+": ")
	}
	return a
}
