// Package errdef is ferry's error vocabulary: the few kinds of failure that
// every package's errors belong to, and that the CLI's exit codes are built
// on (docs/errors.md).
//
// Each package keeps its own sentinels (index.ErrNotFound, oci.ErrNotFound,
// driver.ErrNotFound, ...), with their own messages, and callers may go on
// testing them; each such sentinel also matches its kind, so
//
//	errors.Is(err, errdef.ErrNotFound)
//
// holds for every not-found, whichever package reported it. A package
// declares a sentinel of a kind with New:
//
//	var ErrNotFound = errdef.New(errdef.ErrNotFound, "no prebuilt driver found")
//
// Errors that belong to no kind (a network failure, a full disk, a corrupt
// state file) are plain errors: exit code 1.
package errdef

import "errors"

// The kinds. Test for them with errors.Is.
var (
	// ErrInvalid: the request does not parse or cannot be answered as
	// asked: a bad reference or version constraint, an ambiguous name.
	// Exit code 2 (usage).
	ErrInvalid = errors.New("invalid")
	// ErrNotFound: what was asked for does not exist: an unknown artifact,
	// no version satisfying the constraints, a missing tag, blob, platform,
	// file or prebuilt driver, a target no driver supports.
	// Exit code 3.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: authentication or authorization failed (401, 403,
	// no stored credentials). Exit code 4.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrVerification: something fetched or installed failed a check it
	// must pass: digest, signature, requirement, archive safety.
	// Exit code 5.
	ErrVerification = errors.New("verification failed")

	// ErrDigestMismatch: the bytes received do not have the expected
	// digest. It is an ErrVerification.
	ErrDigestMismatch = New(ErrVerification, "digest mismatch")
	// ErrUnsafeArchive: an archive tried to escape its directory, create a
	// link or special file, or exceeded its limits. It is an
	// ErrVerification.
	ErrUnsafeArchive = New(ErrVerification, "unsafe archive")
)

// New returns a sentinel error with the message msg that matches kind (and
// whatever kind matches) with errors.Is. Each call returns a distinct error.
func New(kind error, msg string) error {
	return &kindError{msg: msg, kind: kind}
}

type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }

// Unwrap returns the kind, so that errors.Is walks on to it.
func (e *kindError) Unwrap() error { return e.kind }

// Wrap returns an error with err's message that matches kind as well as
// err with errors.Is and errors.As: for an error whose message says it all
// and whose kind the caller must still tell (Wrap(ErrInvalid, err) for a
// bad request). A nil err gives nil.
func Wrap(kind, err error) error {
	if err == nil {
		return nil
	}
	return &wrapped{err: err, kind: kind}
}

type wrapped struct {
	err  error
	kind error
}

func (e *wrapped) Error() string { return e.err.Error() }

// Unwrap returns err and the kind, so that errors.Is and errors.As walk
// on to both.
func (e *wrapped) Unwrap() []error { return []error{e.err, e.kind} }
