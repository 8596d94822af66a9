package oci

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"oras.land/oras-go/v2/content"
	oraserrdef "oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/ferryhq/ferry/pkg/errdef"
)

// Sentinel errors callers test with errors.Is.
var (
	ErrNotFound         = errdef.New(errdef.ErrNotFound, "not found")
	ErrUnauthorized     = errdef.New(errdef.ErrUnauthorized, "authentication failed")
	ErrUnreachable      = errors.New("registry unreachable")
	ErrDigestMismatch   = errdef.New(errdef.ErrDigestMismatch, "digest mismatch")
	ErrNotArtifact      = errors.New("not a Falco artifact")
	ErrPlatformNotFound = errdef.New(errdef.ErrNotFound, "platform not found")
)

// AuthError is returned for 401 and 403 answers.
type AuthError struct {
	Host   string
	Status int
}

func (e *AuthError) Error() string {
	if e.Status == http.StatusForbidden {
		return fmt.Sprintf("access to %s denied (403)", e.Host)
	}
	return fmt.Sprintf("authentication to %s required or refused (401)", e.Host)
}

// Is makes errors.Is(err, ErrUnauthorized) true, and so for its kind (errdef).
func (e *AuthError) Is(target error) bool { return errors.Is(ErrUnauthorized, target) }

// PlatformError is returned when an image index has no manifest for the
// requested platform.
type PlatformError struct {
	Want string
	Have []string
}

func (e *PlatformError) Error() string {
	if len(e.Have) == 0 {
		return fmt.Sprintf("no manifest for platform %s: the index lists no platforms", e.Want)
	}
	return fmt.Sprintf("no manifest for platform %s (available: %s)", e.Want, strings.Join(e.Have, ", "))
}

// Is makes errors.Is(err, ErrPlatformNotFound) true, and so for its kind (errdef).
func (e *PlatformError) Is(target error) bool { return errors.Is(ErrPlatformNotFound, target) }

// classify maps oras-go and network errors onto this package's sentinels,
// keeping the original error in the chain.
func classify(host string, err error) error {
	if err == nil {
		return nil
	}
	var resp *errcode.ErrorResponse
	switch {
	case errors.As(err, &resp) && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden):
		return fmt.Errorf("%w: %w", &AuthError{Host: host, Status: resp.StatusCode}, err)
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return fmt.Errorf("%w: no credentials stored for it", &AuthError{Host: host, Status: http.StatusUnauthorized})
	case errors.As(err, &resp) && resp.StatusCode == http.StatusNotFound,
		errors.Is(err, oraserrdef.ErrNotFound):
		if errors.Is(err, ErrNotFound) {
			return err
		}
		// oras says "<reference>: not found", and the caller's message
		// names the reference already: "not found" is said once.
		if errors.Is(err, oraserrdef.ErrNotFound) && strings.HasSuffix(err.Error(), ": "+oraserrdef.ErrNotFound.Error()) {
			return &notFoundError{err: err}
		}
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, content.ErrMismatchedDigest), errors.Is(err, content.ErrTrailingData):
		return fmt.Errorf("%w: %w", ErrDigestMismatch, err)
	}
	var netErr net.Error
	var opErr *net.OpError
	var dnsErr *net.DNSError
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) || (errors.As(err, &netErr) && netErr.Timeout()) {
		if errors.Is(err, ErrUnreachable) {
			return err
		}
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, host, err)
	}
	return err
}

// notFoundError is ErrNotFound for an error of oras that only repeats the
// reference the caller names; it still matches err with errors.Is.
type notFoundError struct{ err error }

func (e *notFoundError) Error() string   { return ErrNotFound.Error() }
func (e *notFoundError) Unwrap() []error { return []error{ErrNotFound, e.err} }
