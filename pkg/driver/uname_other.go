//go:build !linux

package driver

import (
	"errors"
	"runtime"
)

func uname() (release, version string, err error) {
	return "", "", errors.New("uname: Falco drivers are for Linux, this is " + runtime.GOOS)
}
