package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loader runs scripts/falco-driver-loader with the built ferry as $FERRY, in
// the environment plus extra variables.
func (e *env) loader(extra []string, args ...string) result {
	e.t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "scripts", "falco-driver-loader"))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", append([]string{script}, args...)...)
	cmd.Env = append(append(append([]string(nil), e.vars...), "FERRY="+ferryBin), extra...)
	return runCommand(e.t, cmd)
}

// loaderEnv is the legacy environment for the Debian host and one repository.
func loaderEnv(host string, repos ...*driverRepo) []string {
	var urls []string
	for _, r := range repos {
		urls = append(urls, r.URL)
	}
	return []string{"HOST_ROOT=" + host, "DRIVER_VERSION=" + driverVersion, "DRIVERS_REPO=" + strings.Join(urls, ",")}
}

var kernelFlags = []string{"--kernel-release", debianRelease, "--kernel-version", debianVersion}

func engineKind(t *testing.T, host string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(host, "etc", "falco", "config.d", "engine-kind-falcoctl.yaml"))
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(strings.TrimSpace(string(data)), "engine:\n    kind: ")
}

func TestLoaderPrintEnv(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	env := []string{"HOST_ROOT=" + host, "DRIVER_VERSION=" + driverVersion, "DRIVER_NAME=myfalco",
		"DRIVERS_REPO=https://a.example/driver, https://b.example/driver"}

	r := e.loader(env, append([]string{"--print-env", "kmod"}, kernelFlags...)...)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	for _, want := range []string{
		`DRIVER="kmod"`,
		`DRIVERS_REPO="https://a.example/driver, https://b.example/driver"`,
		`DRIVER_VERSION="8.0.0+driver"`,
		`DRIVER_NAME="myfalco"`,
		`TARGET_ID="debian"`,
		`KERNEL_RELEASE="6.1.0-10-cloud-amd64"`,
		`KERNEL_VERSION="#1 SMP PREEMPT_DYNAMIC Debian 6.1.38-2 (2023-07-27)"`,
		`FIXED_KERNEL_RELEASE="6.1.38-2-cloud-amd64"`,
		`FIXED_KERNEL_VERSION="1"`,
	} {
		if !strings.Contains(r.Stdout, want+"\n") {
			t.Errorf("stdout lacks %s:\n%s", want, r.Stdout)
		}
	}
	// The --key=value spelling and the legacy driver names.
	r = e.loader(env, "--print-env", "bpf", "--kernel-release="+debianRelease, "--kernel-version=#7 SMP")
	mustContain(t, "stdout", r.Stdout, `DRIVER="ebpf"`, `FIXED_KERNEL_RELEASE="6.1.0-10-cloud-amd64"`, `FIXED_KERNEL_VERSION="7"`)
	// print-env changes nothing.
	if engineKind(t, host) != "" {
		t.Error("--print-env configured Falco")
	}
}

func TestLoaderInstallsAndConfigures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	fakeModuleTools(t, e)
	repo := newDriverRepo(t, false)
	repo.put(debianKo, []byte("module"))
	repo.put(debianProbe, []byte("probe"))
	ko := filepath.Join(host, "root", ".falco", driverVersion, driverArch(), debianKo)

	t.Run("kmod is downloaded, configured and loaded", func(t *testing.T) {
		r := e.loader(loaderEnv(host, repo), append([]string{"kmod"}, kernelFlags...)...)
		if r.Code != 0 {
			t.Fatalf("exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
		}
		mustContain(t, "stdout", r.Stdout, "Configured Falco for kmod", "Installed the falco kmod driver", "ran     insmod "+ko)
		if engineKind(t, host) != "kmod" || e.installedDriver(host, debianKo) != "module" {
			t.Errorf("kind %q", engineKind(t, host))
		}
		if calls := e.read("calls.log"); !strings.Contains(calls, "insmod "+ko) {
			t.Errorf("calls:\n%s", calls)
		}
	})
	t.Run("module is kmod, --download alone is the default", func(t *testing.T) {
		r := e.loader(loaderEnv(host, repo), append([]string{"module", "--download"}, kernelFlags...)...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "is up to date") {
			t.Fatalf("exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("ebpf links the probe and loads nothing", func(t *testing.T) {
		before := e.read("calls.log")
		r := e.loader(loaderEnv(host, repo), append([]string{"ebpf", "--download"}, kernelFlags...)...)
		if r.Code != 0 {
			t.Fatalf("exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
		}
		if engineKind(t, host) != "ebpf" {
			t.Errorf("kind %q", engineKind(t, host))
		}
		if target, err := os.Readlink(filepath.Join(host, "root", ".falco", "falco-bpf.o")); err != nil || !strings.HasSuffix(target, debianProbe) {
			t.Errorf("link %q, %v", target, err)
		}
		if e.read("calls.log") != before {
			t.Error("ebpf ran module tools")
		}
	})
	t.Run("modern_ebpf and auto download nothing", func(t *testing.T) {
		n := len(repo.requests())
		for _, drv := range []string{"modern_ebpf", "auto"} {
			r := e.loader(loaderEnv(host, repo), append([]string{drv}, kernelFlags...)...)
			if r.Code != 0 || !strings.Contains(r.Stdout, "Nothing to install") || engineKind(t, host) != "modern_ebpf" {
				t.Fatalf("%s: exit %d, kind %q: %s%s", drv, r.Code, engineKind(t, host), r.Stdout, r.Stderr)
			}
		}
		// auto on an old kernel is the module.
		r := e.loader(loaderEnv(host, repo), "auto", "--kernel-release", "4.19.0-6-amd64", "--kernel-version", "#1 SMP Debian 4.19.67-2 (2019-08-28)")
		if r.Code != 3 || engineKind(t, host) != "kmod" || !strings.Contains(r.Stderr, "falco_debian_4.19.67-2-amd64_1.ko") {
			t.Errorf("exit %d, kind %q: %s", r.Code, engineKind(t, host), r.Stderr)
		}
		if got := len(repo.requests()) - n; got != 1 {
			t.Errorf("%d requests", got)
		}
	})
	t.Run("clean removes what was installed", func(t *testing.T) {
		r := e.loader(loaderEnv(host, repo), "--clean")
		if r.Code != 0 || !strings.Contains(r.Stdout, "Removed "+ko) {
			t.Fatalf("exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
		}
		if _, err := os.Stat(ko); !os.IsNotExist(err) {
			t.Error("module left")
		}
		if _, err := os.Lstat(filepath.Join(host, "root", ".falco", "falco-bpf.o")); !os.IsNotExist(err) {
			t.Error("probe link left")
		}
	})
}

func TestLoaderExitCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	fakeModuleTools(t, e)
	empty, corrupt := newDriverRepo(t, false), newDriverRepo(t, false)
	corrupt.put(debianKo, []byte("corrupted"))
	corrupt.put(debianKo+".sha256", []byte(sha256Hex([]byte("module"))+"\n"))
	refused := newDriverRepo(t, false)
	refused.fail(debianKo, http.StatusUnauthorized)

	cases := []struct {
		name   string
		env    []string
		args   []string
		code   int
		stderr string
	}{
		{"not found is 3", loaderEnv(host, empty), append([]string{"kmod"}, kernelFlags...), 3, empty.fileURL(debianKo)},
		{"refused is 4", loaderEnv(host, refused), append([]string{"kmod"}, kernelFlags...), 4, refused.fileURL(debianKo) + " (401 Unauthorized)"},
		{"corrupt is 5", loaderEnv(host, corrupt), append([]string{"kmod"}, kernelFlags...), 5, "digest mismatch"},
		{"compile alone, no sources", loaderEnv(host, empty), append([]string{"kmod", "--compile"}, kernelFlags...), 3, "no driver sources for falco 8.0.0+driver"},
		{"unknown option", nil, []string{"--frobnicate"}, 2, "unknown option: --frobnicate"},
		{"unknown driver", nil, []string{"gvisor"}, 2, "unknown driver: gvisor"},
		{"two drivers", nil, []string{"kmod", "ebpf"}, 2, "only one driver"},
		{"missing value", nil, []string{"--kernel-release"}, 2, "needs a value"},
		{"bad host root from ferry", []string{"HOST_ROOT=relative"}, []string{"--print-env"}, 2, "--host-root"},
		{"ferry missing", []string{"FERRY=" + e.path("no-such-ferry")}, []string{"--print-env"}, 127, "ferry not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.loader(c.env, c.args...)
			if r.Code != c.code || !strings.Contains(r.Stderr, c.stderr) {
				t.Errorf("exit %d (want %d), stderr:\n%s", r.Code, c.code, r.Stderr)
			}
		})
	}

	// --compile alone asks no repository; --compile with --download
	// downloads first.
	good := newDriverRepo(t, false)
	good.put(debianKo, []byte("module"))
	r := e.loader(loaderEnv(host, good), append([]string{"kmod", "--compile"}, kernelFlags...)...)
	if r.Code != 3 || len(good.requests()) != 0 {
		t.Errorf("exit %d, %d requests: %s", r.Code, len(good.requests()), r.Stderr)
	}
	r = e.loader(loaderEnv(host, good), append([]string{"kmod", "--compile", "--download"}, kernelFlags...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "from    "+good.fileURL(debianKo)) {
		t.Errorf("exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = e.loader(nil, "--help")
	if r.Code != 0 || !strings.Contains(r.Stdout, "--print-env") {
		t.Errorf("help: exit %d: %s", r.Code, r.Stdout)
	}
}

func TestLoaderHTTPInsecure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	fakeModuleTools(t, e)
	repo := newDriverRepo(t, true) // a self-signed certificate
	repo.put(debianKo, []byte("module"))

	r := e.loader(loaderEnv(host, repo), append([]string{"kmod"}, kernelFlags...)...)
	if r.Code != 1 || !strings.Contains(r.Stderr, "certificate") {
		t.Fatalf("without --http-insecure: exit %d: %s", r.Code, r.Stderr)
	}
	r = e.loader(loaderEnv(host, repo), append([]string{"kmod", "--http-insecure"}, kernelFlags...)...)
	if r.Code != 0 || e.installedDriver(host, debianKo) != "module" {
		t.Fatalf("with --http-insecure: exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
	}
	// The old loader's environment: DRIVER_INSECURE_DOWNLOAD, and
	// DRIVER_CURL_OPTIONS with -k and a header.
	e.ok("driver", "cleanup")
	r = e.loader(append(loaderEnv(host, repo), "DRIVER_INSECURE_DOWNLOAD=true"), append([]string{"kmod"}, kernelFlags...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Installed the falco kmod driver") {
		t.Fatalf("DRIVER_INSECURE_DOWNLOAD: exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
	}
	e.ok("driver", "cleanup")
	if err := os.RemoveAll(e.path(".falco")); err != nil { // the cache: download again
		t.Fatal(err)
	}
	r = e.loader(append(loaderEnv(host, repo), "DRIVER_CURL_OPTIONS=-k --silent -H x-emc-namespace:default"), append([]string{"kmod", "--download"}, kernelFlags...)...)
	if r.Code != 0 || !strings.Contains(r.Stderr, "--silent is ignored") {
		t.Fatalf("DRIVER_CURL_OPTIONS: exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
	}
	if h := repo.header(debianKo, "x-emc-namespace"); h != "default" {
		t.Errorf("header %q", h)
	}
}

// The old loader's DRIVER_KERNEL_RELEASE, DRIVER_KERNEL_VERSION and
// FALCO_BPF_PROBE; --source-only prints the variables.
func TestLoaderLegacyEnvironment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	fakeModuleTools(t, e)
	repo := newDriverRepo(t, false)
	repo.put(debianProbe, []byte("probe"))
	env := append(loaderEnv(host, repo), "DRIVER_KERNEL_RELEASE="+debianRelease, "DRIVER_KERNEL_VERSION="+debianVersion)

	r := e.loader(env, "--source-only", "bpf")
	mustContain(t, "stdout", r.Stdout, `FIXED_KERNEL_RELEASE="6.1.38-2-cloud-amd64"`, `DRIVER="ebpf"`, `HOST_ROOT="`+host+`"`)
	// The flags win over the environment.
	r = e.loader(env, "--print-env", "bpf", "--kernel-version", "#9 SMP")
	mustContain(t, "stdout", r.Stdout, `FIXED_KERNEL_VERSION="9"`)

	probe := e.path("elsewhere", "probe.o")
	r = e.loader(append(env, "FALCO_BPF_PROBE="+probe), "bpf")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
	}
	if data, err := os.ReadFile(probe); err != nil || string(data) != "probe" {
		t.Errorf("FALCO_BPF_PROBE: %q, %v", data, err)
	}
	r = e.loader(env, "--clean")
	if _, err := os.Lstat(probe); r.Code != 0 || !os.IsNotExist(err) {
		t.Errorf("--clean left %s: %s", probe, r.Stdout)
	}
}
