package driver

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Type is a kind of driver, as Falco's engine.kind names it.
type Type string

// The driver types.
const (
	Kmod       Type = "kmod"
	EBPF       Type = "ebpf"
	ModernEBPF Type = "modern_ebpf"
)

// Auto stands for DefaultTypes in a list of types.
const Auto = "auto"

// DefaultTypes is what "auto" means, in order of preference: falcoctl's
// default, the modern probe where the kernel has it, else the module.
func DefaultTypes() []Type { return []Type{ModernEBPF, Kmod} }

// ParseType parses one type name.
func ParseType(s string) (Type, error) {
	switch t := Type(strings.TrimSpace(s)); t {
	case Kmod, EBPF, ModernEBPF:
		return t, nil
	}
	return "", fmt.Errorf("unknown driver type %q (want kmod, ebpf, modern_ebpf or auto)", s)
}

// ParseTypes parses a preference list; "auto" expands to DefaultTypes.
// Duplicates are dropped, keeping the first.
func ParseTypes(list []string) ([]Type, error) {
	var out []Type
	seen := map[Type]bool{}
	add := func(t Type) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, s := range list {
		if strings.TrimSpace(s) == Auto {
			for _, t := range DefaultTypes() {
				add(t)
			}
			continue
		}
		t, err := ParseType(s)
		if err != nil {
			return nil, err
		}
		add(t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no driver type given (want kmod, ebpf, modern_ebpf or auto)")
	}
	return out, nil
}

// Extension is the driver file's extension: .ko, .o, or "" for modern_ebpf.
func (t Type) Extension() string {
	switch t {
	case Kmod:
		return ".ko"
	case EBPF:
		return ".o"
	}
	return ""
}

// NeedsFile reports whether the type needs a file from a driver repository.
func (t Type) NeedsFile() bool { return t == Kmod || t == EBPF }

// minKernel is the lowest kernel each type works on, per architecture, as
// driverkit and falcoctl have it.
func (t Type) minKernel(arch string) [3]int {
	switch t {
	case Kmod:
		if arch == "aarch64" {
			return [3]int{3, 16, 0}
		}
		return [3]int{3, 10, 0}
	case EBPF:
		if arch == "aarch64" {
			return [3]int{4, 17, 0}
		}
		return [3]int{4, 14, 0}
	default:
		return [3]int{5, 8, 0}
	}
}

// Supported says whether t can run on the target's kernel, and why not.
// An unparsable kernel release is given the benefit of the doubt.
func (t Type) Supported(tg Target) (bool, string) {
	if t == Kmod && tg.Distro == "cos" {
		return false, "Container-Optimized OS does not load out-of-tree kernel modules"
	}
	if t == Kmod && tg.Distro == "ol" && strings.Contains(tg.KernelRelease, "uek") {
		return false, "the module does not build on Oracle Linux's UEK kernels (falcoctl skips kmod there too)"
	}
	v, ok := kernelNumbers(tg.KernelRelease)
	if !ok {
		return true, ""
	}
	min := t.minKernel(tg.Arch)
	for i := range v {
		if v[i] != min[i] {
			if v[i] > min[i] {
				return true, ""
			}
			return false, fmt.Sprintf("%s needs kernel >= %d.%d.%d on %s", t, min[0], min[1], min[2], tg.Arch)
		}
	}
	return true, ""
}

// ChooseType returns the first type of prefs the target supports.
func ChooseType(prefs []Type, tg Target) (Type, error) {
	var why []string
	for _, t := range prefs {
		ok, reason := t.Supported(tg)
		if ok {
			return t, nil
		}
		why = append(why, reason)
	}
	return "", fmt.Errorf("%w: no driver type of %v works on %s kernel %s: %s", ErrUnsupported, prefs, tg.ID, tg.KernelRelease, strings.Join(why, "; "))
}

var kernelNumbersRE = regexp.MustCompile(`^(\d+)\.(\d+)(?:[.+](\d+))?`)

// kernelNumbers reads major.minor.patch from a kernel release.
func kernelNumbers(release string) ([3]int, bool) {
	m := kernelNumbersRE.FindStringSubmatch(release)
	if m == nil {
		return [3]int{}, false
	}
	var v [3]int
	for i := 1; i <= 3; i++ {
		if m[i] != "" {
			v[i-1], _ = strconv.Atoi(m[i])
		}
	}
	return v, true
}
