package driver

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// DefaultRepo is where the Falco project publishes prebuilt drivers.
const DefaultRepo = "https://download.falco.org/driver"

// FileName names the prebuilt driver file for the target:
// <name>_<target id>_<fixed kernel release>_<fixed kernel version><ext>, e.g.
// falco_debian_6.1.38-2-cloud-amd64_1.ko.
func FileName(name string, typ Type, t Target) string {
	return fmt.Sprintf("%s_%s_%s_%s%s", name, t.ID, t.FixedKernelRelease, t.FixedKernelVersion, typ.Extension())
}

// URL is where repo publishes file: <repo>/<url-escaped version>/<arch>/<file>,
// e.g. https://download.falco.org/driver/8.0.0%2Bdriver/x86_64/falco_debian_6.1.38-2-cloud-amd64_1.ko.
func URL(repo, version, arch, file string) string {
	return strings.TrimRight(repo, "/") + "/" + url.QueryEscape(version) + "/" + arch + "/" + url.PathEscape(file)
}

// LocalPath is where Falco keeps a driver file under a .falco directory:
// <dir>/<version>/<arch>/<file> (the version is not escaped).
func LocalPath(dir, version, arch, file string) string {
	return filepath.Join(dir, version, arch, file)
}

// ProbeLink is the eBPF probe path Falco reads by default
// (engine.ebpf.probe: ${HOME}/.falco/falco-bpf.o), under a .falco directory.
func ProbeLink(dir, name string) string { return filepath.Join(dir, name+"-bpf.o") }

// ModuleName is the kernel's name for the module of driver name (dashes
// become underscores).
func ModuleName(name string) string { return strings.ReplaceAll(name, "-", "_") }
