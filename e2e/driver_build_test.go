package e2e

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
	"github.com/ferryhq/ferry/pkg/driver"
)

// The driver sources every build test installs: a hello-world module in
// the shape of Falco's DKMS tree, and a one-function eBPF probe.
const (
	buildVersion = "9.9.9+driver"
	srcTemplate  = "../pkg/driver/testdata/driver-src"
)

// headersRelease is a kernel release whose headers are installed, or "".
func headersRelease() string {
	matches, _ := filepath.Glob("/lib/modules/*/build/Makefile")
	if len(matches) == 0 {
		return ""
	}
	return filepath.Base(filepath.Dir(filepath.Dir(matches[0])))
}

// needBuildTools skips when the machine cannot build drivers; CI
// installs them (.ci/run).
func needBuildTools(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"dkms", "make", "gcc", "clang", "llc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install dkms linux-headers-amd64 gcc make clang llvm)", tool)
		}
	}
	r := headersRelease()
	if r == "" {
		t.Skip("no kernel headers under /lib/modules/*/build (apt-get install linux-headers-amd64)")
	}
	return r
}

// installSources writes the test driver's sources to dir, filled in as
// Falco's build fills dkms.conf.in; edit, if set, changes main.c.
func installSources(t *testing.T, dir, version string, edit func(string) string) {
	t.Helper()
	err := filepath.WalkDir(srcTemplate, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(srcTemplate, p)
		to := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := strings.NewReplacer("@DRIVER_NAME@", "falco", "@DRIVER_VERSION@", version).Replace(string(data))
		if rel == "main.c" && edit != nil {
			s = edit(s)
		}
		return os.WriteFile(to, []byte(s), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// debianKernelVersion is uname -v of a Debian kernel of release r: the
// driver file is named after the version in it (6.1.192-1), not r.
func debianKernelVersion(t *testing.T, release string) (version, fixed string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/lib/modules", release, "build", "include", "generated", "uapi", "linux", "version.h"))
	if err != nil {
		t.Fatal(err)
	}
	var major, minor, sub string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 {
			switch f[1] {
			case "LINUX_VERSION_MAJOR":
				major = f[2]
			case "LINUX_VERSION_PATCHLEVEL":
				minor = f[2]
			case "LINUX_VERSION_SUBLEVEL":
				sub = f[2]
			}
		}
	}
	v := major + "." + minor + "." + sub + "-1"
	suffix := release[strings.LastIndex(release, "-"):]
	return "#1 SMP PREEMPT_DYNAMIC Debian " + v + " (2025-01-01)", v + suffix
}

func moduleVermagic(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vm, err := driver.ModuleVermagic(f)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// A Debian host whose kernel no repository has a driver for gets one
// built with the real DKMS (kmod) and clang (ebpf), from the built binary,
// in a mount namespace that keeps /usr/src, /lib/modules and /var/lib/dkms
// private; the machine is checked unchanged afterwards.
func TestDriverBuildFromSources(t *testing.T) {
	t.Parallel()
	release := needBuildTools(t)
	if !testutil.PrivateMounts(t, "/usr/src", "/lib/modules", "/var/lib/dkms") {
		return
	}
	e := newEnv(t)
	host := debianHost(t, e)
	installSources(t, filepath.Join(host, "usr", "src", "falco-"+buildVersion), buildVersion, nil)
	repo := newDriverRepo(t, false)
	kver, fixed := debianKernelVersion(t, release)
	args := func(typ string, extra ...string) []string {
		return append(driverCmd("install", "--host-root", host, "--kernelrelease", release, "--kernelversion", kver,
			"--version", buildVersion, "--type", typ, "--repo", repo.URL), extra...)
	}
	ko := "falco_debian_" + fixed + "_1.ko"
	installed := filepath.Join(host, "root", ".falco", buildVersion, driverArch(), ko)
	logPath := e.path("state", "driver-build", buildVersion, ko+".log")
	rc := newReceiver(t)
	e.vars = append(e.vars, "FERRY_EVENTS_SINK="+rc.srv.URL)

	t.Run("kmod is built with dkms and installed", func(t *testing.T) {
		r := e.ok(args("kmod")...)
		mustContain(t, "stdout", r.Stdout,
			"Built and installed the falco kmod driver "+buildVersion+" for debian "+fixed+" (1)",
			"skipped "+repo.URL+"/9.9.9%2Bdriver/"+driverArch()+"/"+ko+" (404 Not Found)",
			"built   dkms from "+filepath.Join(host, "usr", "src", "falco-"+buildVersion),
			"log     "+logPath, "file    "+installed, "(built here)")
		if vm := moduleVermagic(t, installed); !strings.HasPrefix(vm, release+" ") {
			t.Errorf("vermagic %q", vm)
		}
		if out, err := exec.Command("modinfo", "-F", "vermagic", installed).Output(); err != nil || !strings.HasPrefix(string(out), release+" ") {
			t.Errorf("modinfo: %q, %v", out, err)
		}
		mustContain(t, "build log", e.read("state", "driver-build", buildVersion, ko+".log"), "dkms install -m falco -v "+buildVersion+" -k "+release)
		if got := rc.got(); len(got) != 0 {
			t.Errorf("a built driver emitted %d events: nothing was downloaded", len(got))
		}
		// Cached now: no request, no build.
		n := len(repo.requests())
		r = e.ok(args("kmod")...)
		mustContain(t, "stdout", r.Stdout, "is up to date", "from    cache")
		if len(repo.requests()) != n {
			t.Error("a cached build made requests")
		}
	})

	t.Run("ebpf is built with clang", func(t *testing.T) {
		r := e.ok(args("ebpf", "--download=false")...)
		probe := filepath.Join(host, "root", ".falco", buildVersion, driverArch(), "falco_debian_"+fixed+"_1.o")
		mustContain(t, "stdout", r.Stdout, "Built and installed the falco ebpf driver", "built   make-bpf", "link    "+filepath.Join(host, "root", ".falco", "falco-bpf.o"))
		f, err := elf.Open(probe)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.Machine != elf.EM_BPF {
			t.Errorf("machine %s", f.Machine)
		}
	})

	t.Run("cleanup removes what was built", func(t *testing.T) {
		r := e.ok("driver", "cleanup")
		mustContain(t, "stdout", r.Stdout, "Removed "+installed)
		if _, err := os.Stat(installed); !os.IsNotExist(err) {
			t.Error("built module left")
		}
	})

	t.Run("the legacy facade's --compile builds and loads it", func(t *testing.T) {
		calls := fakeModuleTools(t, e)
		if err := os.RemoveAll(e.path(".falco")); err != nil { // the cache: build again
			t.Fatal(err)
		}
		r := e.loader([]string{"HOST_ROOT=" + host, "DRIVER_VERSION=" + buildVersion, "DRIVERS_REPO=" + repo.URL,
			"FALCO_CONFIG_DIR=" + e.path("falco-config")},
			"kmod", "--compile", "--kernel-release", release, "--kernel-version", kver)
		if r.Code != 0 {
			t.Fatalf("exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
		}
		mustContain(t, "stdout", r.Stdout, "Configured Falco for kmod", "Built and installed the falco kmod driver", "built   dkms", "ran     insmod "+installed)
		if vm := moduleVermagic(t, installed); !strings.HasPrefix(vm, release+" ") {
			t.Errorf("vermagic %q", vm)
		}
		mustContain(t, "module tools", e.read(filepath.Base(calls)), "insmod "+installed)
		e.ok("driver", "cleanup")
	})

	t.Run("failures", func(t *testing.T) {
		// No headers for the release: exit 3, the paths and the package.
		r := e.ferry(driverCmd("install", "--host-root", host, "--kernelrelease", "6.1.0-999-amd64", "--kernelversion", "#1 SMP",
			"--version", buildVersion, "--type", "kmod", "--download=false")...)
		oneLine(t, r, 3, "no kernel headers for kernel 6.1.0-999-amd64", filepath.Join(host, "lib/modules/6.1.0-999-amd64/build"),
			"/usr/src/linux-headers-6.1.0-999-amd64", "install linux-headers-6.1.0-999-amd64")
		// No sources for the version: exit 3, naming where it looked.
		r = e.ferry(args("kmod", "--version", "9.9.7+driver")...)
		oneLine(t, r, 3, "no driver sources for falco 9.9.7+driver", filepath.Join(host, "usr/src/falco-9.9.7+driver"))
		// A failed build: exit 1, the end of the log and its path;
		// nothing installed.
		installSources(t, filepath.Join(host, "usr", "src", "falco-9.9.8+driver"), "9.9.8+driver", func(s string) string {
			return strings.Replace(s, "return 0;", "return no_such_symbol;", 1)
		})
		r = e.ferry(args("kmod", "--version", "9.9.8+driver", "--no-dkms")...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "the last lines of the build log "+e.path("state", "driver-build", "9.9.8+driver", ko+".log")) ||
			!strings.Contains(r.Stderr, "  | ") || !strings.Contains(r.Stderr, "no_such_symbol") {
			t.Errorf("exit %d:\n%s", r.Code, r.Stderr)
		}
		i := strings.LastIndex(r.Stderr, "\nerror: ") + 1
		if i == 0 {
			t.Fatalf("no error line:\n%s", r.Stderr)
		}
		oneLine(t, result{Stderr: r.Stderr[i:], Code: r.Code}, 1, "building the falco kmod driver 9.9.8+driver", "build log: "+e.path("state", "driver-build", "9.9.8+driver", ko+".log"))
		if _, err := os.Stat(filepath.Join(host, "root", ".falco", "9.9.8+driver")); !os.IsNotExist(err) {
			t.Error("a failed build installed something")
		}
		// The same failed build with DKMS: the module dkms install added
		// is removed from DKMS's tree again, so that a retry starts clean.
		r = e.ferry(args("kmod", "--version", "9.9.8+driver")...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "no_such_symbol") || !strings.Contains(r.Stderr, "dkms install") {
			t.Errorf("dkms: exit %d:\n%s", r.Code, r.Stderr)
		}
		if entries, err := os.ReadDir("/var/lib/dkms/falco"); err == nil {
			for _, en := range entries {
				if strings.HasPrefix(en.Name(), "9.9.8") {
					t.Errorf("a failed dkms build left /var/lib/dkms/falco/%s", en.Name())
				}
			}
		}
		mustContain(t, "build log", e.read("state", "driver-build", "9.9.8+driver", ko+".log"), "dkms remove -m falco -v 9.9.8+driver --all")
		// Neither download nor compile: nothing to do.
		r = e.ok(args("kmod", "--download=false", "--compile=false")...)
		mustContain(t, "stdout", r.Stdout, "Nothing to do: download and compile disabled")
	})
}
