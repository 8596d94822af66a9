package driver

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/pkg/errdef"
)

func TestCheckNames(t *testing.T) {
	good := Target{ID: "debian", KernelRelease: "6.1.0-10-amd64", FixedKernelRelease: "6.1.38-2-amd64", FixedKernelVersion: "1"}
	if err := CheckNames("falco", "8.0.0+driver", good); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, version string
		edit          func(*Target)
		want          string
	}{
		{"falco", "8.0.0", func(t *Target) { t.KernelRelease = "../../../../tmp/x/PWNED" }, "kernel release"},
		{"falco", "8.0.0", func(t *Target) { t.FixedKernelRelease = "a/b" }, "fixed kernel release"},
		{"falco", "8.0.0", func(t *Target) { t.FixedKernelVersion = `1\2` }, "fixed kernel version"},
		{"falco", "8.0.0", func(t *Target) { t.ID = "../../x" }, "target id"},
		{"falco", "..", func(*Target) {}, "driver version"},
		{"", "8.0.0", func(*Target) {}, "driver name"},
		{"fal\x00co", "8.0.0", func(*Target) {}, "driver name"},
		{"falco", "8.0.0\n", func(*Target) {}, "driver version"},
		{"falco", strings.Repeat("9", 256), func(*Target) {}, "driver version"},
	} {
		tg := good
		c.edit(&tg)
		err := CheckNames(c.name, c.version, tg)
		if !errors.Is(err, ErrUnsafeName) || !errors.Is(err, errdef.ErrInvalid) || !strings.HasPrefix(err.Error(), c.want+" ") {
			t.Errorf("%q %q %+v: %v", c.name, c.version, tg, err)
		}
	}
}

// An os-release ID that climbs out of the directory is refused, whatever
// the rest of the file says.
func TestHostileOSReleaseID(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte("ID=\"../../x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := Detect(root, Kernel{Release: "6.1.0", Version: "#1", Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckNames("falco", "8.0.0", tg); !errors.Is(err, ErrUnsafeName) {
		t.Errorf("target %+v: %v", tg, err)
	}
}

// falcoctl's answers: the module needs 3.10 on x86_64 and 3.16 on aarch64;
// Oracle Linux's UEK kernels and COS get no module.
func TestTypeSupportedAsFalcoctl(t *testing.T) {
	for _, c := range []struct {
		distro, arch, release string
		want                  bool
	}{
		{"centos", "x86_64", "3.10.0-1160.el7.x86_64", true},
		{"centos", "x86_64", "2.6.32-754.el6.x86_64", false},
		{"debian", "x86_64", "3.9.11", false},
		{"debian", "aarch64", "3.16.0", true},
		{"debian", "aarch64", "3.15.9", false},
		{"ol", "x86_64", "5.15.0-200.131.27.el8uek.x86_64", false},
		{"ol", "x86_64", "4.18.0-513.el8.x86_64", true},
		{"cos", "x86_64", "5.15.0", false},
	} {
		ok, why := Kmod.Supported(Target{Distro: c.distro, Arch: c.arch, KernelRelease: c.release})
		if ok != c.want || (!ok && why == "") {
			t.Errorf("%+v: %v %q", c, ok, why)
		}
	}
	if _, err := ChooseType([]Type{Kmod}, Target{Distro: "ol", Arch: "x86_64", KernelRelease: "5.4.17-2136.el8uek.x86_64"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("uek kmod: %v", err)
	}
}

// Whatever the components, a name that passes CheckNames is one element:
// the cache and install paths stay inside their directories.
func FuzzDriverFileName(f *testing.F) {
	f.Add("falco", "8.0.0+driver", "debian", "6.1.0-10-cloud-amd64", "6.1.38-2-cloud-amd64", "1")
	f.Add("falco", "8.0.0", "../../x", "6.1.0", "6.1.0", "1")
	f.Add("falco", "..", "ubuntu-aws", "../../../../tmp/x/PWNED", "x", "1")
	f.Add("fal/co", ".", "", "a\\b", "", "\x00")
	f.Fuzz(func(t *testing.T, name, version, id, release, fixedRelease, fixedVersion string) {
		tg := Target{ID: id, KernelRelease: release, FixedKernelRelease: fixedRelease, FixedKernelVersion: fixedVersion}
		if CheckNames(name, version, tg) != nil {
			return
		}
		for _, typ := range []Type{Kmod, EBPF} {
			file := FileName(name, typ, tg)
			dir := filepath.Join("/cache", "dir")
			p := LocalPath(dir, version, "x86_64", file)
			rel, err := filepath.Rel(dir, p)
			if err != nil || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
				t.Fatalf("%q escapes %s: %q", p, dir, rel)
			}
			if parts := strings.Split(rel, string(filepath.Separator)); len(parts) != 3 || parts[2] != file || parts[0] != version {
				t.Fatalf("%q is not <version>/<arch>/<file>: %q", rel, parts)
			}
			for _, kdir := range KernelDirCandidates("/host", release) {
				if r, err := filepath.Rel("/host", kdir); err != nil || strings.HasPrefix(r, "..") {
					t.Fatalf("%q escapes the host root", kdir)
				}
			}
		}
	})
}
