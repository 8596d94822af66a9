package errdef_test

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/ferryhq/ferry/pkg/errdef"
)

func TestNewMatchesItsKind(t *testing.T) {
	a := errdef.New(errdef.ErrNotFound, "no such thing")
	b := errdef.New(errdef.ErrNotFound, "no such thing")
	if a.Error() != "no such thing" {
		t.Errorf("message %q", a.Error())
	}
	wrapped := fmt.Errorf("looking: %w", a)
	if !errors.Is(wrapped, a) || !errors.Is(wrapped, errdef.ErrNotFound) {
		t.Errorf("%v does not match its sentinel and kind", wrapped)
	}
	if errors.Is(wrapped, b) {
		t.Error("two sentinels of one kind match each other")
	}
	for _, other := range []error{errdef.ErrInvalid, errdef.ErrUnauthorized, errdef.ErrVerification, errdef.ErrDigestMismatch} {
		if errors.Is(wrapped, other) {
			t.Errorf("a not-found matches %v", other)
		}
	}
}

func TestRefinedKinds(t *testing.T) {
	for _, kind := range []error{errdef.ErrDigestMismatch, errdef.ErrUnsafeArchive} {
		e := errdef.New(kind, "bad")
		if !errors.Is(e, kind) || !errors.Is(e, errdef.ErrVerification) {
			t.Errorf("a %v is not a verification failure", kind)
		}
		if errors.Is(e, errdef.ErrNotFound) {
			t.Errorf("a %v is a not-found", kind)
		}
	}
	if errors.Is(errdef.ErrDigestMismatch, errdef.ErrUnsafeArchive) {
		t.Error("a digest mismatch is an unsafe archive")
	}
}

func TestWrapKeepsMessageAndMatchesBoth(t *testing.T) {
	base := &os.PathError{Op: "open", Path: "k.pem", Err: os.ErrNotExist}
	err := fmt.Errorf("reading the key: %w", errdef.Wrap(errdef.ErrInvalid, base))
	if err.Error() != "reading the key: open k.pem: file does not exist" {
		t.Errorf("message %q", err.Error())
	}
	var pe *os.PathError
	if !errors.Is(err, errdef.ErrInvalid) || !errors.Is(err, os.ErrNotExist) || !errors.As(err, &pe) {
		t.Errorf("%v does not match its kind and its cause", err)
	}
	if errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("%v matches another kind", err)
	}
	if errdef.Wrap(errdef.ErrInvalid, nil) != nil {
		t.Error("Wrap(kind, nil) is not nil")
	}
}
