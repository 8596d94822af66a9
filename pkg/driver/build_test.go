package driver

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// headersRelease is a kernel release whose headers are installed
// (/lib/modules/<release>/build/Makefile), or "".
func headersRelease() string {
	matches, _ := filepath.Glob("/lib/modules/*/build/Makefile")
	if len(matches) == 0 {
		return ""
	}
	return filepath.Base(filepath.Dir(filepath.Dir(matches[0])))
}

// needBuildTools skips the test when the machine cannot build drivers (CI
// installs dkms, linux-headers-amd64, gcc, make, clang and llvm).
func needBuildTools(t *testing.T, tools ...string) string {
	t.Helper()
	for _, tool := range tools {
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

// writeDriverSource copies testdata/driver-src to dir, filled in as
// Falco's build fills dkms.conf.in; edit, if set, changes main.c.
func writeDriverSource(t *testing.T, dir, name, version string, edit func(string) string) {
	t.Helper()
	src := filepath.Join("testdata", "driver-src")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := strings.NewReplacer("@DRIVER_NAME@", name, "@DRIVER_VERSION@", version).Replace(string(data))
		if rel == "main.c" && edit != nil {
			s = edit(s)
		}
		return os.WriteFile(to, []byte(s), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func buildRequest(t *testing.T, dir, release string, typ Type, repo string) Request {
	return Request{
		Name: "falco", Version: "9.9.9+driver", Type: typ,
		Target: Target{Distro: "debian", ID: "debian", Arch: "x86_64", KernelRelease: release,
			FixedKernelRelease: release, FixedKernelVersion: "1"},
		Repos: []string{repo}, CacheDir: filepath.Join(dir, "cache"), InstallDir: filepath.Join(dir, "root", ".falco"),
		StateDir: filepath.Join(dir, "state"), Compile: true, Build: BuildOptions{HostRoot: "/"},
	}
}

// Real DKMS, make, clang and llc build the test driver against the real
// kernel headers, in a mount namespace where /usr/src, /lib/modules and
// /var/lib/dkms are private overlays; the machine is checked unchanged.
func TestBuildWithRealTools(t *testing.T) {
	release := needBuildTools(t, "dkms", "make", "gcc", "clang", "llc")
	if !testutil.PrivateMounts(t, "/usr/src", "/lib/modules", "/var/lib/dkms") {
		return
	}
	ctx := context.Background()
	repo := newRepo(t)
	writeDriverSource(t, "/usr/src/falco-9.9.9+driver", "falco", "9.9.9+driver", nil)
	in := &Installer{HTTP: repo.Client()}

	t.Run("kmod with dkms", func(t *testing.T) {
		dir := t.TempDir()
		req := buildRequest(t, dir, release, Kmod, repo.URL)
		res, err := in.Install(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Built || res.Build == nil || res.Build.Method != "dkms" || res.Status != StatusInstalled || res.URL != "" {
			t.Fatalf("result %+v", res)
		}
		wantFile := "falco_debian_" + release + "_1.ko"
		if res.Path != filepath.Join(dir, "root", ".falco", "9.9.9+driver", "x86_64", wantFile) {
			t.Errorf("installed at %s", res.Path)
		}
		checkVermagic(t, res.Path, release)
		checkVermagic(t, res.CachePath, release)
		if got := repo.requests(); len(got) != 1 || !strings.HasSuffix(got[0], "/"+wantFile) {
			t.Errorf("requests %v", got)
		}
		// DKMS has it in its tree, built for the release.
		if _, err := os.Stat(filepath.Join("/var/lib/dkms/falco/9.9.9+driver", release, "x86_64/module/falco.ko")); err != nil {
			t.Error(err)
		}
		if log, err := os.ReadFile(res.Build.Log); err != nil || !strings.Contains(string(log), "dkms install -m falco -v 9.9.9+driver -k "+release) {
			t.Errorf("build log %s: %v\n%s", res.Build.Log, err, log)
		}
		st, err := ReadState(req.StateDir)
		if err != nil || len(st.Files) != 1 || !st.Files[0].Built || st.Files[0].Path != res.Path || st.Files[0].SHA256 != res.SHA256 {
			t.Errorf("state %+v, %v", st, err)
		}
		// The second run finds it in the cache: no request, no build.
		res, err = in.Install(ctx, req)
		if err != nil || !res.Cached || res.Built || res.Status != StatusUpToDate || len(repo.requests()) != 1 {
			t.Errorf("second run %+v, %v", res, err)
		}
		if len(st.DKMS) != 1 || st.DKMS[0] != (DKMSModule{Name: "falco", Version: "9.9.9+driver", Kernel: release}) {
			t.Errorf("state DKMS %+v", st.DKMS)
		}
		cl, err := in.Cleanup(ctx, CleanupRequest{StateDir: req.StateDir})
		if err != nil || len(cl.Removed) != 1 || len(cl.Commands) != 1 || !cl.Commands[0].Ran || cl.Commands[0].Error != "" {
			t.Errorf("cleanup %+v, %v", cl, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "root", ".falco", "9.9.9+driver")); !os.IsNotExist(err) {
			t.Error("cleanup left the built driver")
		}
		// DKMS no longer has it for the release.
		if _, err := os.Stat(filepath.Join("/var/lib/dkms/falco/9.9.9+driver", release)); !os.IsNotExist(err) {
			t.Errorf("dkms remove left %v", err)
		}
	})

	t.Run("kmod with make", func(t *testing.T) {
		dir := t.TempDir()
		req := buildRequest(t, dir, release, Kmod, repo.URL)
		req.NoDownload, req.Build.NoDKMS = true, true
		n := len(repo.requests())
		res, err := in.Install(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Built || res.Build.Method != "make" || len(repo.requests()) != n {
			t.Fatalf("result %+v, %d requests", res, len(repo.requests())-n)
		}
		checkVermagic(t, res.Path, release)
		// The sources were built out of a copy: the tree is untouched.
		if _, err := os.Stat("/usr/src/falco-9.9.9+driver/falco.ko"); !os.IsNotExist(err) {
			t.Error("make wrote into the source tree")
		}
	})

	t.Run("ebpf probe", func(t *testing.T) {
		dir := t.TempDir()
		req := buildRequest(t, dir, release, EBPF, repo.URL)
		res, err := in.Install(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Built || res.Build.Method != "make-bpf" || !strings.HasSuffix(res.Path, "_1.o") {
			t.Fatalf("result %+v", res)
		}
		f, err := elf.Open(res.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.Machine != elf.EM_BPF || f.Section("raw_tracepoint/sys_enter") == nil {
			t.Errorf("machine %s, sections %v", f.Machine, f.Sections)
		}
		// The version section holds LINUX_VERSION_CODE of the headers
		// KERNELDIR named.
		data, err := f.Section("version").Data()
		if err != nil || len(data) != 4 {
			t.Fatalf("version section %v, %v", data, err)
		}
		hdr, err := os.ReadFile(filepath.Join(res.Build.KernelDir, "include/generated/uapi/linux/version.h"))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`LINUX_VERSION_CODE (\d+)`).FindSubmatch(hdr)
		if m == nil || string(m[1]) != itoa(binary.LittleEndian.Uint32(data)) {
			t.Errorf("probe version %d, headers say %s", binary.LittleEndian.Uint32(data), m)
		}
		if target, err := os.Readlink(res.Link); err != nil || !strings.HasSuffix(target, filepath.Base(res.Path)) {
			t.Errorf("link %s -> %s, %v", res.Link, target, err)
		}
	})

	t.Run("a failed build", func(t *testing.T) {
		writeDriverSource(t, "/usr/src/falco-9.9.8+driver", "falco", "9.9.8+driver", func(s string) string {
			return strings.Replace(s, "return 0;", "return undeclared_thing;", 1)
		})
		dir := t.TempDir()
		req := buildRequest(t, dir, release, Kmod, repo.URL)
		req.Version = "9.9.8+driver"
		res, err := in.Install(ctx, req)
		var be *BuildError
		if !errors.As(err, &be) || !errors.Is(err, ErrBuild) || !errors.Is(err, ErrNotFound) {
			t.Fatalf("got %v", err)
		}
		if !strings.Contains(strings.Join(be.Tail, "\n"), "undeclared_thing") || be.Log != filepath.Join(dir, "state", "driver-build", "9.9.8+driver", "falco_debian_"+release+"_1.ko.log") {
			t.Errorf("log %s, tail:\n%s", be.Log, strings.Join(be.Tail, "\n"))
		}
		if !strings.Contains(err.Error(), "build log: "+be.Log) || !strings.Contains(err.Error(), "no prebuilt") {
			t.Errorf("error %v", err)
		}
		for _, p := range []string{res.CachePath, filepath.Join(dir, "root"), StatePath(req.StateDir)} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s exists after a failed build", p)
			}
		}
	})
}

func itoa(v uint32) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + v%10)}, b...)
		if v /= 10; v == 0 {
			return string(b)
		}
	}
}

func checkVermagic(t *testing.T, path, release string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vm, err := ModuleVermagic(f)
	if err != nil || !strings.HasPrefix(vm, release+" ") {
		t.Errorf("%s: vermagic %q, %v", path, vm, err)
	}
	if out, err := exec.Command("modinfo", "-F", "vermagic", path).Output(); err == nil && !strings.HasPrefix(string(out), release+" ") {
		t.Errorf("modinfo says vermagic %q", out)
	}
}

// No sources, or no headers: not found, naming where ferry looked.
func TestBuildNotFound(t *testing.T) {
	ctx := context.Background()
	repo := newRepo(t)
	dir := t.TempDir()
	host := filepath.Join(dir, "host")
	in := &Installer{HTTP: repo.Client(), System: &fakeSystem{}}
	req := buildRequest(t, dir, "6.1.0-99-nope-amd64", Kmod, repo.URL)
	req.Build.HostRoot = host

	_, err := in.Install(ctx, req)
	if !errors.Is(err, ErrNoSource) || !strings.Contains(err.Error(), filepath.Join(host, "usr/src/falco-9.9.9+driver")) {
		t.Errorf("no sources: %v", err)
	}
	writeDriverSource(t, filepath.Join(host, "usr/src/falco-9.9.9+driver"), "falco", "9.9.9+driver", nil)
	res, err := in.Install(ctx, req)
	if !errors.Is(err, ErrNoHeaders) || !strings.Contains(err.Error(), filepath.Join(host, "lib/modules/6.1.0-99-nope-amd64/build")) ||
		!strings.Contains(err.Error(), "/usr/src/linux-headers-6.1.0-99-nope-amd64") || !strings.Contains(err.Error(), "install linux-headers-6.1.0-99-nope-amd64") {
		t.Errorf("no headers: %v", err)
	}
	if _, err := os.Stat(res.CachePath); !os.IsNotExist(err) {
		t.Error("cached something")
	}
	// The cache is consulted first, then the repository, then the build.
	if got := repo.requests(); len(got) != 2 {
		t.Errorf("requests %v", got)
	}
	// An undetermined host has no prebuilt driver: falcoctl compiles
	// anyway, asking no repository; without --compile it is unsupported.
	und := req
	und.Target.ID, und.Target.Distro = Undetermined, Undetermined
	if _, err := in.Install(ctx, und); !errors.Is(err, ErrNoHeaders) || len(repo.requests()) != 2 {
		t.Errorf("undetermined: %v, %d requests", err, len(repo.requests()))
	}
	und.Compile = false
	if _, err := in.Install(ctx, und); !errors.Is(err, ErrUnsupported) || len(repo.requests()) != 2 {
		t.Errorf("undetermined without compile: %v", err)
	}
	// Neither download nor compile: nothing to do, as falcoctl says.
	req.NoDownload, req.Compile = true, false
	res, err = in.Install(ctx, req)
	if err != nil || res.Status != StatusNotNeeded || !strings.Contains(res.Note, "nothing to do") || len(repo.requests()) != 2 {
		t.Errorf("%+v, %v", res, err)
	}
}
