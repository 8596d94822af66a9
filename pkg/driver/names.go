package driver

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/ferryhq/ferry/pkg/errdef"
)

// ErrUnsafeName means a component of a driver file name (driver name, driver
// version, target id, kernel release or kernel version) is not a single
// safe path element, so the file it names could land outside its directory.
// It is an errdef.ErrInvalid (exit code 2).
var ErrUnsafeName = errdef.New(errdef.ErrInvalid, "not a single safe path element")

// maxElement is the longest path element most file systems accept.
const maxElement = 255

// SafeElement reports why s cannot be one path element ("" when it can):
// it must not be empty, "." or "..", longer than 255 bytes, or contain a
// slash, a backslash, NUL or another control character.
func SafeElement(s string) string {
	switch {
	case s == "":
		return "empty"
	case s == "." || s == "..":
		return "a relative directory"
	case len(s) > maxElement:
		return fmt.Sprintf("longer than %d bytes", maxElement)
	case strings.ContainsAny(s, `/\`):
		return "contains a path separator"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "contains a control character"
	}
	return ""
}

// CheckNames checks every component of the driver's file name and local
// paths (the name, the version, the target id, the kernel release as given
// and as fixed up, and the fixed kernel version) is a single safe path
// element. The error matches ErrUnsafeName.
func CheckNames(name, version string, t Target) error {
	for _, c := range []struct{ what, v string }{
		{"driver name", name},
		{"driver version", version},
		{"target id", t.ID},
		{"kernel release", t.KernelRelease},
		{"fixed kernel release", t.FixedKernelRelease},
		{"fixed kernel version", t.FixedKernelVersion},
	} {
		if why := SafeElement(c.v); why != "" {
			return fmt.Errorf("%s %q is %w: %s", c.what, c.v, ErrUnsafeName, why)
		}
	}
	return nil
}
