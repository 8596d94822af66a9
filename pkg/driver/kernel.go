package driver

import (
	"fmt"
	"runtime"
	"strings"
)

// Kernel is what uname reports about a kernel.
type Kernel struct {
	// Release is `uname -r`, e.g. 6.1.0-10-cloud-amd64.
	Release string `json:"release"`
	// Version is `uname -v`, e.g. #1 SMP PREEMPT_DYNAMIC Debian 6.1.38-2 (2023-07-27).
	Version string `json:"version"`
	// Arch is the driver repository's name for the architecture: x86_64 or
	// aarch64. Empty means the architecture ferry runs on.
	Arch string `json:"arch"`
}

// ArchName maps a Go architecture to the driver repository's name for it
// (amd64 → x86_64, arm64 → aarch64); others are returned unchanged.
func ArchName(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return goarch
}

// HostKernel reads the running kernel's release and version with uname(2)
// (falling back to /proc/sys/kernel/osrelease and version); release and
// version, when not empty, override what the kernel says.
func HostKernel(release, version string) (Kernel, error) {
	k := Kernel{Release: release, Version: version, Arch: ArchName(runtime.GOARCH)}
	if k.Release != "" && k.Version != "" {
		return k, nil
	}
	r, v, err := uname()
	if err != nil {
		return k, fmt.Errorf("reading the kernel release: %w (pass --kernelrelease and --kernelversion)", err)
	}
	if k.Release == "" {
		k.Release = strings.TrimSpace(r)
	}
	if k.Version == "" {
		k.Version = strings.TrimSpace(v)
	}
	return k, nil
}
