package cmdutil

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// Exit codes, documented in `ferry --help`.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitNotFound    = 3
	ExitAuth        = 4
	ExitVerify      = 5
	ExitInterrupted = 130
)

// ExitCodesHelp is the exit code table shown in help.
const ExitCodesHelp = `Exit codes:
  0    success
  1    error
  2    usage: bad flags, or a reference or constraint that does not parse
  3    not found: unknown artifact, no version matches, missing tag, platform or file
  4    authentication or authorization failed (also a refused registry login)
  5    verification failed: digest, signature, requirement, unsafe archive,
       a signature missing from a bundle with --require-signatures
  130  interrupted`

// CodedError carries an explicit exit code and an optional hint.
type CodedError struct {
	Code int
	Err  error
	Hint string
}

func (e *CodedError) Error() string { return e.Err.Error() }
func (e *CodedError) Unwrap() error { return e.Err }

// Usage wraps err as a usage error (exit 2), unless err carries its own
// code already (NotFound).
func Usage(err error) error {
	var ce *CodedError
	if errors.As(err, &ce) {
		return err
	}
	return &CodedError{Code: ExitUsage, Err: err}
}

// NotFound wraps err as a not-found error (exit 3): an input file the user
// named that does not exist.
func NotFound(err error) error { return &CodedError{Code: ExitNotFound, Err: err} }

// MissingFile is err as a not-found error (exit 3) when it says that a
// file does not exist (fs.ErrNotExist), else err unchanged.
func MissingFile(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return NotFound(err)
	}
	return err
}

// InputFile checks the file a flag names exists: a path that does not
// is a not-found error (exit 3) naming the flag and the path, as every
// other missing input file. "" (the flag not given) and a path that exists
// are nil; any other failure to read it is left to the code that reads it.
func InputFile(flag, path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return NotFound(fmt.Errorf("--%s %s: no such file", flag, path))
	}
	return nil
}

// Classifier maps library errors to an exit code; the CLI registers one
// kind of pkg/errdef per code (docs/errors.md).
type Classifier struct {
	rules []rule
}

type rule struct {
	target error
	code   int
}

// Add maps errors matching target (errors.Is) to code.
func (c *Classifier) Add(code int, targets ...error) {
	for _, t := range targets {
		c.rules = append(c.rules, rule{t, code})
	}
}

// Code returns the exit code for err.
func (c *Classifier) Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var ce *CodedError
	if errors.As(err, &ce) {
		return ce.Code
	}
	if errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	for _, r := range c.rules {
		if errors.Is(err, r.target) {
			return r.code
		}
	}
	return ExitError
}

// Hint suggests a fix for err, or returns "".
func Hint(err error) string {
	var ce *CodedError
	if errors.As(err, &ce) && ce.Hint != "" {
		return ce.Hint
	}
	var nf *index.NotFoundError
	if errors.As(err, &nf) && len(nf.Suggestions) == 0 {
		if nf.Name == "" {
			return "run: ferry index list"
		}
		return "run: ferry artifact search " + nf.Name + " (or ferry index update, to fetch the indexes again)"
	}
	if errors.Is(err, oci.ErrNoTrustedRoot) {
		return "pass --trusted-root FILE with Sigstore's trusted_root.json (e.g. copied from a machine that reaches tuf-repo-cdn.sigstore.dev), or set FERRY_TRUSTED_ROOT or defaults.trusted-root in the config"
	}
	var ae *oci.AuthError
	if errors.As(err, &ae) {
		return "run: ferry registry login " + ae.Host
	}
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	if errors.As(err, &ue) || errors.As(err, &he) || strings.Contains(err.Error(), "x509: ") {
		return "pass --ca-file with the registry's CA, or set caFile for the host in the config"
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return "the registry speaks plain HTTP: pass --plain-http (or set plainHTTP for the host in the config)"
	}
	if errors.Is(err, install.ErrNoSignedChannel) {
		return "install it when a registry that carries its signature answers, or pass --no-verify to accept it unsigned"
	}
	if errors.Is(err, install.ErrUnverified) {
		return "publish a SHA256SUMS or FILE.sha256 beside the file, pin it in the index (digests:), or pass --allow-unverified to install it anyway"
	}
	if errors.Is(err, oci.ErrUnreachable) {
		return "check the registry address and your network (proxies: HTTPS_PROXY, NO_PROXY)"
	}
	return ""
}

// FormatError renders err as the one line the CLI prints, plus a hint line.
func FormatError(err error) string { return FormatErrorAs(err, "ferry") }

// hintCommand is a ferry command line quoted in a hint.
var hintCommand = regexp.MustCompile(`\bferry( (artifact|index|registry|driver|config|events|version|completion)\b)`)

// FormatErrorAs is FormatError for ferry run under the name prog (falcoctl):
// the command lines a hint suggests are written with that name, so that
// they run as the user runs ferry.
func FormatErrorAs(err error, prog string) string {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	s := "error: " + msg + "\n"
	if h := Hint(err); h != "" {
		if prog != "ferry" {
			h = hintCommand.ReplaceAllString(h, prog+"$1")
		}
		s += fmt.Sprintf("hint: %s\n", h)
	}
	return s
}
