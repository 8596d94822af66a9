// Package driver installs the kernel drivers Falco needs (the kernel module,
// kmod, and the legacy eBPF probe, ebpf; the modern eBPF probe, modern_ebpf,
// is built into Falco and needs nothing) from the driver repositories that
// falcoctl and the legacy falco-driver-loader use.
//
// Detect reads /etc/os-release (and the other release files falcoctl reads)
// under a host root and applies falcoctl's per-distribution fix-ups to the
// kernel release and version uname reports, giving the Target that names the
// prebuilt file: <repo>/<driver version>/<arch>/<name>_<target id>_<kernel
// release>_<kernel version>.ko (.o for ebpf). An Installer downloads it from
// the repositories in order, verifies it when a digest is known (given, or a
// sha256sum sidecar at URL.sha256), caches it the way Falco does
// (<cache>/<driver version>/<arch>/<file>), installs it atomically where
// Falco looks for it (<host root>/root/.falco/...), records what it put in
// place in a state file that Cleanup reads, and loads a kernel module only
// when asked. When no repository has the file and Request.Compile is set,
// it builds the driver from Falco's sources (<host root>/usr/src/<name>-
// <version>) against the kernel headers: a module with DKMS or make, the
// eBPF probe with make, clang and llc (build.go). WriteEngineConfig tells
// Falco which engine kind to use.
//
// The package never prints: it returns results and errors (test them with
// errors.Is against ErrNotFound, ErrDigestMismatch, ErrUnsupported, ErrLoad,
// ErrNoSource, ErrNoHeaders, ErrBuild, ErrUnsafeName)
// and reports progress through Installer.Progress. Commands (rmmod, insmod)
// run through the System interface, which tests replace.
package driver
