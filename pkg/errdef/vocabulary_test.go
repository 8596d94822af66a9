package errdef_test

import (
	"errors"
	"fmt"
	"testing"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/driver"
	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

var kinds = []error{errdef.ErrInvalid, errdef.ErrNotFound, errdef.ErrUnauthorized, errdef.ErrVerification}

// Every package's sentinels (and the typed errors that match them) belong
// to one kind, keep their own identity and message, and match no other kind.
func TestEveryPackageSpeaksTheVocabulary(t *testing.T) {
	for _, c := range []struct {
		err  error
		kind error
		msg  string // the sentinel's message, unchanged
	}{
		{index.ErrInvalidReference, errdef.ErrInvalid, "invalid reference"},
		{index.ErrInvalidConstraint, errdef.ErrInvalid, "invalid constraint"},
		{index.ErrAmbiguous, errdef.ErrInvalid, "ambiguous artifact name"},
		{driver.ErrUnsafeName, errdef.ErrInvalid, "not a single safe path element"},
		{index.ErrNotFound, errdef.ErrNotFound, "not found"},
		{index.ErrNoMatch, errdef.ErrNotFound, "no matching version"},
		{oci.ErrNotFound, errdef.ErrNotFound, "not found"},
		{oci.ErrPlatformNotFound, errdef.ErrNotFound, "platform not found"},
		{install.ErrDependencyConflict, errdef.ErrNotFound, "dependency conflict"},
		{install.ErrNotLocked, errdef.ErrNotFound, "not in the lock file"},
		{driver.ErrNotFound, errdef.ErrNotFound, "no prebuilt driver found"},
		{driver.ErrUnsupported, errdef.ErrNotFound, "unsupported target"},
		{ferryhttp.ErrNotFound, errdef.ErrNotFound, "not found"},
		{oci.ErrUnauthorized, errdef.ErrUnauthorized, "authentication failed"},
		{ferryhttp.ErrUnauthorized, errdef.ErrUnauthorized, "unauthorized"},
		{oci.ErrDigestMismatch, errdef.ErrDigestMismatch, "digest mismatch"},
		{oci.ErrVerification, errdef.ErrVerification, "verification failed"},
		{install.ErrUnsafeArchive, errdef.ErrUnsafeArchive, "unsafe archive"},
		{install.ErrRequirement, errdef.ErrVerification, "requirement not met"},
		{install.ErrUnverified, errdef.ErrVerification, "no digest to verify the download against"},
		{install.ErrUnsigned, errdef.ErrVerification, "no signature to bundle"},
		{driver.ErrDigestMismatch, errdef.ErrDigestMismatch, "digest mismatch"},
		{ferryhttp.ErrDigestMismatch, errdef.ErrDigestMismatch, "digest mismatch"},
	} {
		if c.err.Error() != c.msg {
			t.Errorf("%q: message changed from %q", c.err, c.msg)
		}
		err := fmt.Errorf("doing a thing: %w", c.err)
		if !errors.Is(err, c.err) || !errors.Is(err, c.kind) {
			t.Errorf("%q does not match its sentinel and kind %q", c.err, c.kind)
		}
		matched := 0
		for _, k := range kinds {
			if errors.Is(err, k) {
				matched++
			}
		}
		if matched != 1 {
			t.Errorf("%q matches %d of the kinds", c.err, matched)
		}
	}
	// Package sentinels of one kind stay apart.
	if errors.Is(oci.ErrNotFound, index.ErrNotFound) || errors.Is(index.ErrNotFound, oci.ErrNotFound) || errors.Is(driver.ErrNotFound, ferryhttp.ErrNotFound) {
		t.Error("two packages' not-founds match each other")
	}
}

func TestTypedErrorsMatchTheirKind(t *testing.T) {
	for _, c := range []struct {
		err  error
		kind error
	}{
		{&index.ReferenceError{Ref: "x", Msg: "bad"}, errdef.ErrInvalid},
		{&index.ConstraintError{Constraint: ">>1", Err: errors.New("bad")}, errdef.ErrInvalid},
		{&index.AmbiguousError{Name: "x", Indexes: []string{"a", "b"}}, errdef.ErrInvalid},
		{&index.NotFoundError{Name: "x"}, errdef.ErrNotFound},
		{&index.NoMatchError{Constraint: "9.x"}, errdef.ErrNotFound},
		{&oci.PlatformError{Want: "linux/s390x"}, errdef.ErrNotFound},
		{&oci.AuthError{Host: "h", Status: 403}, errdef.ErrUnauthorized},
		{&oci.VerificationError{}, errdef.ErrVerification},
		{&install.ConflictError{}, errdef.ErrNotFound},
		{&install.RequirementError{}, errdef.ErrVerification},
		{&install.UnsafeArchiveError{Entry: "../x", Reason: "escapes"}, errdef.ErrUnsafeArchive},
		{&driver.DownloadError{Attempts: []driver.Attempt{{URL: "u", NotFound: true}}}, errdef.ErrNotFound},
		{&driver.DownloadError{Attempts: []driver.Attempt{{URL: "u", NotFound: true}, {URL: "v", Unauthorized: true}}}, errdef.ErrUnauthorized},
		{&ferryhttp.StatusError{URL: "u", Code: 404}, errdef.ErrNotFound},
		{&ferryhttp.StatusError{URL: "u", Code: 410}, errdef.ErrNotFound},
		{&ferryhttp.StatusError{URL: "u", Code: 401}, errdef.ErrUnauthorized},
		{&ferryhttp.StatusError{URL: "u", Code: 403}, errdef.ErrUnauthorized},
	} {
		if !errors.Is(fmt.Errorf("x: %w", c.err), c.kind) {
			t.Errorf("%T %q does not match %q", c.err, c.err, c.kind)
		}
	}
}

// Failures of no kind stay so (exit code 1).
func TestOtherErrorsHaveNoKind(t *testing.T) {
	for _, err := range []error{
		install.ErrCorruptArchive, install.ErrCorruptState, install.ErrNotInstalled, install.ErrConflict, install.ErrTypeNotAllowed,
		oci.ErrUnreachable, oci.ErrNotArtifact, oci.ErrNoSignature, oci.ErrNoTrustedRoot,
		index.ErrInvalidIndex, driver.ErrLoad, driver.ErrBuild,
		ferryhttp.ErrServer, ferryhttp.ErrNetwork, ferryhttp.ErrTooLarge,
		&ferryhttp.StatusError{URL: "u", Code: 500}, &ferryhttp.StatusError{URL: "u", Code: 400},
		&driver.DownloadError{Attempts: []driver.Attempt{{URL: "u", Error: "500 Internal Server Error"}}},
		&driver.DownloadError{Attempts: []driver.Attempt{{URL: "u", Unauthorized: true}, {URL: "v", Error: "500 Internal Server Error"}}},
	} {
		for _, k := range kinds {
			if errors.Is(err, k) {
				t.Errorf("%q matches %q", err, k)
			}
		}
	}
}
