//go:build linux

package driver

import (
	"os"
	"strings"
	"syscall"
)

func uname() (release, version string, err error) {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err == nil {
		return cString(u.Release[:]), cString(u.Version[:]), nil
	}
	r, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "", "", err
	}
	v, err := os.ReadFile("/proc/sys/kernel/version")
	if err != nil {
		return "", "", err
	}
	return strings.TrimSpace(string(r)), strings.TrimSpace(string(v)), nil
}

// cString converts a NUL-terminated utsname field (int8 or uint8 depending
// on the architecture).
func cString[T int8 | uint8](b []T) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}
