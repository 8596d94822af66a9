package driver

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
)

// Undetermined is the target id of a host whose distribution is unknown:
// no os-release with an ID and none of the older release files.
const Undetermined = "undetermined"

// Target is the host a driver is for: its distribution, the target id the
// driver repositories use for it, and the kernel release and version as uname
// reports them and as fixed up to name the driver file.
type Target struct {
	// Distro is the os-release ID (lowercased), "minikube", or Undetermined.
	Distro string `json:"distro"`
	// ID is the target id in file names: debian, ubuntu-aws, amazonlinux2023...
	ID   string `json:"targetId"`
	Arch string `json:"arch"`
	// KernelRelease and KernelVersion are uname -r and uname -v.
	KernelRelease string `json:"kernelRelease"`
	KernelVersion string `json:"kernelVersion"`
	// FixedKernelRelease and FixedKernelVersion name the driver file.
	FixedKernelRelease string `json:"fixedKernelRelease"`
	FixedKernelVersion string `json:"fixedKernelVersion"`
	// BuildID is Container-Optimized OS's BUILD_ID (which kernel headers a
	// local build would need); it does not change the file name.
	BuildID string `json:"buildId,omitempty"`
	// Warnings say where detection fell back to generic rules.
	Warnings []string `json:"warnings,omitempty"`
}

var (
	// "#1 SMP PREEMPT_DYNAMIC ..." → "1"; "#1-photon SMP ..." → "1".
	genericVersionRE = regexp.MustCompile(`#(\d+)`)
	// Debian's flavour and architecture suffix: -amd64, -cloud-amd64, -rt-arm64.
	debianArchRE = regexp.MustCompile(`-?(rt-|cloud-|)(amd64|arm64)`)
	// Debian's real kernel version, found in uname -v: "Debian 6.1.38-2".
	debianVersionRE = regexp.MustCompile(`\d+\.\d+\.\d+-\d+`)
	// Ubuntu's flavour, the first alphabetic word of the release's suffix:
	// 5.15.0-1009-aws → aws, 5.0.0-1028-aws-5.0 → aws, 6.5.0-9-lowlatency.
	ubuntuFlavorRE = regexp.MustCompile(`-([a-zA-Z]+)(-.*)?$`)
	// minikube's /etc/VERSION: v1.26.0-1655407986-14197 → 1.26.0.
	minikubeVersionRE = regexp.MustCompile(`\d+\.\d+\.\d+`)
)

// Detect identifies the host under hostRoot ("/" or "" for this machine) and
// fixes up the kernel release and version the way falcoctl does, so that the
// target names the file the driver repositories publish. It reads
// /etc/os-release (else /usr/lib/os-release) under hostRoot; without one it
// recognises the host by /etc/VERSION (minikube), /etc/debian_version,
// /etc/centos-release or /etc/redhat-release, and otherwise returns an
// Undetermined target with a warning. Only I/O errors other than missing
// files are returned.
func Detect(hostRoot string, k Kernel) (Target, error) {
	if k.Arch == "" {
		k.Arch = ArchName(runtime.GOARCH)
	}
	t := Target{
		Arch:               k.Arch,
		KernelRelease:      k.Release,
		KernelVersion:      k.Version,
		FixedKernelRelease: k.Release,
		FixedKernelVersion: genericVersion(k.Version),
	}
	osr, err := readOSRelease(hostRoot)
	if err != nil {
		return t, err
	}
	mkVersion, err := minikubeVersion(hostRoot)
	if err != nil {
		return t, err
	}
	id, warnings := distroID(hostRoot, osr, mkVersion)
	t.Warnings = append(t.Warnings, warnings...)
	if id == "" {
		t.Distro, t.ID = Undetermined, Undetermined
		return t, nil
	}
	t.Distro, t.ID = id, id
	fixTarget(&t, k, osr, mkVersion)
	return t, nil
}

// distroID names the distribution of the host under hostRoot from its
// os-release osr and minikube version mkVersion, else from its release
// files; it returns "" when none tells, with the warnings that explain why.
func distroID(hostRoot string, osr map[string]string, mkVersion string) (string, []string) {
	var warnings []string
	id := strings.ToLower(osr["ID"])
	if mkVersion != "" {
		// /etc/VERSION overrides the ID: minikube's os-release says buildroot.
		id = "minikube"
	}
	// falcoctl reads the keys a distribution needs when it discovers it;
	// one missing fails the discovery, which then falls back to the
	// release files, and else to an undetermined target.
	if missing := missingKeys(id, osr); missing != "" {
		warnings = append(warnings, fmt.Sprintf("%s: os-release has no %s", id, missing))
		id = ""
	}
	switch {
	case id != "":
	case hostFileExists(hostRoot, "etc/debian_version"):
		id = "debian"
	case hostFileExists(hostRoot, "etc/centos-release"):
		id = "centos"
	case hostFileExists(hostRoot, "etc/redhat-release"):
		id = "rhel"
	default:
		warnings = append(warnings, "cannot determine the distribution: no os-release with an ID (and the keys it needs) under "+rootName(hostRoot))
	}
	return id, warnings
}

// fixTarget sets t's ID, fixed kernel release and version and build ID the
// way falcoctl does for the distribution t.Distro, from the kernel k, the
// os-release osr and the minikube version mkVersion.
func fixTarget(t *Target, k Kernel, osr map[string]string, mkVersion string) {
	switch t.Distro {
	case "amzn":
		t.ID = amazonID(osr["VERSION_ID"])
	case "ubuntu":
		flavor := "generic"
		if m := ubuntuFlavorRE.FindStringSubmatch(k.Release); m != nil {
			flavor = m[1]
		}
		t.ID = "ubuntu-" + flavor
		t.FixedKernelVersion = ubuntuVersion(k.Version)
	case "debian":
		fixDebian(t, k)
	case "flatcar":
		// Files are named after the Flatcar release, not the kernel.
		if osr["VERSION_ID"] != "" {
			t.FixedKernelRelease = osr["VERSION_ID"]
		}
	case "minikube":
		t.FixedKernelVersion = "1_" + mkVersion
	case "bottlerocket":
		variant, _, _ := strings.Cut(osr["VARIANT_ID"], "-")
		t.FixedKernelVersion = "1_" + osr["VERSION_ID"] + "-" + variant
	case "talos":
		t.FixedKernelVersion = "1_" + osr["VERSION_ID"]
	case "cos":
		t.BuildID = osr["BUILD_ID"]
	}
}

// amazonID is the target ID of Amazon Linux with os-release VERSION_ID
// versionID.
func amazonID(versionID string) string {
	switch versionID {
	case "2":
		return "amazonlinux2"
	case "2022":
		return "amazonlinux2022"
	case "2023":
		return "amazonlinux2023"
	}
	return "amazonlinux"
}

// fixDebian sets t's fixed kernel release and version for Debian kernel k.
// The release names the kernel ABI package (6.1.0-10-cloud-amd64); the real
// kernel version is in uname -v (Debian 6.1.38-2), and the files are named
// after it, with the flavour and arch kept.
func fixDebian(t *Target, k Kernel) {
	v := debianVersionRE.FindString(k.Version)
	if v == "" {
		return
	}
	suffix := ""
	if m := debianArchRE.FindStringSubmatch(k.Release); m != nil {
		suffix = "-" + m[1] + m[2]
	}
	t.FixedKernelRelease = v + suffix
	t.FixedKernelVersion = "1"
}

// requiredKeys are the os-release keys falcoctl needs to discover a
// distribution.
var requiredKeys = map[string][]string{
	"amzn":         {"VERSION_ID"},
	"talos":        {"VERSION_ID"},
	"flatcar":      {"VERSION_ID"},
	"bottlerocket": {"VERSION_ID", "VARIANT_ID"},
	"cos":          {"BUILD_ID"},
}

// missingKeys names the keys id needs that osr lacks, or "".
func missingKeys(id string, osr map[string]string) string {
	var missing []string
	for _, k := range requiredKeys[id] {
		if _, ok := osr[k]; !ok {
			missing = append(missing, k)
		}
	}
	return strings.Join(missing, " and ")
}

func rootName(root string) string {
	if root == "" {
		return "/"
	}
	return root
}

// genericVersion keeps the build number of uname -v: "#1 SMP ..." → "1".
// Without one, the version is kept as it is (e.g. a --kernelversion of "1").
func genericVersion(v string) string {
	if m := genericVersionRE.FindStringSubmatch(v); m != nil {
		return m[1]
	}
	return v
}

// ubuntuVersion keeps the whole first word of uname -v without "#" and
// "-Ubuntu": "#26~22.04.1-Ubuntu SMP ..." → "26~22.04.1", "#98-Ubuntu" → "98".
func ubuntuVersion(v string) string {
	v = strings.TrimLeft(v, "#")
	v, _, _ = strings.Cut(v, " ")
	return strings.TrimSuffix(v, "-Ubuntu")
}

func readOSRelease(root string) (map[string]string, error) {
	for _, name := range []string{"etc/os-release", "usr/lib/os-release"} {
		data, found, err := readHostFile(root, name)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if found {
			return ParseOSRelease(data), nil
		}
	}
	return map[string]string{}, nil
}

func minikubeVersion(root string) (string, error) {
	data, found, err := readHostFile(root, "etc/VERSION")
	if err != nil || !found {
		return "", err
	}
	return minikubeVersionRE.FindString(string(data)), nil
}
