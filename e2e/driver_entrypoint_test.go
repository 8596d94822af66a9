package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testutil"
)

// The driver-loader image's entrypoint, unchanged (see its README).
const entrypoint = "testdata/falco/driver-loader/docker-entrypoint.sh"

// entrypointEnv runs Falco's driver-loader entrypoint as the image does,
// with the built binary as /usr/bin/falcoctl. It needs a private mount
// namespace: the script calls /usr/bin/falcoctl by absolute path and
// links the host's /usr/src entries into /usr/src, and falcoctl's driver
// config writes /etc/falco.
type entrypointEnv struct {
	*env
	host string
}

func (p *entrypointEnv) run(args ...string) result {
	p.t.Helper()
	script, err := filepath.Abs(entrypoint)
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	cmd.Env = append(append([]string(nil), p.vars...), "HOST_ROOT="+p.host)
	return runCommand(p.t, cmd)
}

// setRepos points the driver commands at repos, in the config file's
// driver section (ferry's config file, and falcoctl's, which ferry reads
// when it runs as falcoctl).
func (p *entrypointEnv) setRepos(repos ...string) {
	p.t.Helper()
	yaml := "driver:\n  repos:\n"
	for _, r := range repos {
		yaml += "    - " + r + "\n"
	}
	p.write("config/ferry/config.yaml", yaml)
	if err := os.MkdirAll("/etc/falcoctl", 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile("/etc/falcoctl/falcoctl.yaml", []byte(yaml), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func engineKindFile(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/etc/falco/config.d/engine-kind-falcoctl.yaml")
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(strings.TrimSpace(string(data)), "engine:\n    kind: ")
}

// newEntrypointEnv prepares a run of the entrypoint in a private mount
// namespace: the built binary as /usr/bin/falcoctl, module tools stubbed,
// a Debian host root. It returns nil in the parent process, whose test
// runs again inside the namespace, and the headers' kernel release.
func newEntrypointEnv(t *testing.T) (*entrypointEnv, string) {
	t.Helper()
	release := needBuildTools(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("the entrypoint needs bash")
	}
	if !testutil.PrivateMounts(t, "/usr/src", "/lib/modules", "/var/lib/dkms", "/etc", "/usr/bin") {
		return nil, ""
	}
	e := newEnv(t)
	// Falco's drop-in goes where falcoctl writes it, /etc/falco (private here).
	e.vars = withoutVar(e.vars, "FERRY_FALCO_CONFIG_DIR")
	fakeModuleTools(t, e)
	p := &entrypointEnv{env: e, host: debianHost(t, e)}
	data, err := os.ReadFile(ferryBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/usr/bin/falcoctl", data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p, release
}

// Falco's driver-loader entrypoint runs unchanged against ferry as
// /usr/bin/falcoctl with each of its options: a prebuilt driver from a
// repository served over HTTP, and a driver built by the real DKMS when
// none is prebuilt.
func TestDriverLoaderEntrypoint(t *testing.T) {
	t.Parallel()
	p, release := newEntrypointEnv(t)
	if p == nil {
		return
	}
	e := p.env
	// The image's falco.yaml runs a driver.
	if err := os.MkdirAll("/etc/falco", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/falco/falco.yaml", []byte("engine:\n  kind: kmod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	installSources(t, filepath.Join(p.host, "usr", "src", "falco-"+buildVersion), buildVersion, nil)

	repo := newDriverRepo(t, false)
	p.setRepos(repo.URL)
	// The entrypoint passes --kernelversion=$2 unquoted: "#1 SMP ..."
	// reaches falcoctl as "#1" and words it ignores, so the Debian fix-up
	// (which reads the real version from uname -v) does not apply, as
	// with falcoctl.
	kver, _ := debianKernelVersion(t, release)
	ko := "falco_debian_" + release + "_1.ko"
	koPath := "/9.9.9%2Bdriver/" + driverArch() + "/" + ko
	repo.mu.Lock()
	repo.files[koPath] = []byte("prebuilt module")
	repo.mu.Unlock()
	installed := filepath.Join(p.host, "root", ".falco", buildVersion, driverArch(), ko)
	cached := e.path(".falco", buildVersion, driverArch(), ko)
	kernel := []string{"--kernel-release", release, "--kernel-version", kver}
	forget := func() { // the cache, so that the next run downloads or builds again
		if err := os.RemoveAll(e.path(".falco")); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("--print-env", func(t *testing.T) {
		r := p.run("--print-env")
		if r.Code != 0 {
			t.Fatalf("exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
		}
		// The version is read from the /usr/src links the script made.
		mustContain(t, "stdout", r.Stdout, `DRIVER_VERSION="`+buildVersion+`"`, `HOST_ROOT="`+p.host+`"`,
			`DRIVERS_REPO="`+repo.URL+`"`, `TARGET_ID="debian"`, `DRIVER_NAME="falco"`)
		if target, err := os.Readlink("/usr/src/falco-" + buildVersion); err != nil || target != filepath.Join(p.host, "usr", "src", "falco-"+buildVersion) {
			t.Errorf("/usr/src link: %q, %v", target, err)
		}
	})

	t.Run("auto", func(t *testing.T) {
		// The running kernel is new enough for the modern probe: no file.
		r := p.run("auto")
		if r.Code != 0 || engineKindFile(t) != "modern_ebpf" {
			t.Fatalf("exit %d, kind %q: %s%s", r.Code, engineKindFile(t), r.Stdout, r.Stderr)
		}
		mustContain(t, "stdout", r.Stdout, "Nothing to install for modern_ebpf")
	})

	t.Run("kmod --download --kernel-release", func(t *testing.T) {
		// The script passes FALCOCTL_DRIVER_HTTP_HEADERS as --http-headers.
		p.vars = append(p.vars, "FALCOCTL_DRIVER_HTTP_HEADERS=x-emc-namespace: default,Proxy-Authenticate: Basic")
		defer func() { p.vars = p.vars[:len(p.vars)-1] }()
		r := p.run(append([]string{"kmod", "--download"}, kernel...)...)
		if r.Code != 0 || engineKindFile(t) != "kmod" {
			t.Fatalf("exit %d, kind %q: %s%s", r.Code, engineKindFile(t), r.Stdout, r.Stderr)
		}
		mustContain(t, "stdout", r.Stdout, "Installed the falco kmod driver "+buildVersion, "from    "+repo.URL+koPath)
		if got, err := os.ReadFile(installed); err != nil || string(got) != "prebuilt module" {
			t.Errorf("installed %q, %v", got, err)
		}
		repo.mu.Lock()
		h := repo.headers[koPath]
		repo.mu.Unlock()
		if h.Get("X-Emc-Namespace") != "default" || h.Get("Proxy-Authenticate") != "Basic" {
			t.Errorf("request headers %v", h)
		}
		// The stored choice is what install used: falcoctl's config file
		// (the one ferry reads as falcoctl) says kmod.
		cfg, err := os.ReadFile("/etc/falcoctl/falcoctl.yaml")
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, "config", string(cfg), "- kmod\n")
	})

	t.Run("--clean", func(t *testing.T) {
		r := p.run("--clean")
		if r.Code != 0 || !strings.Contains(r.Stdout, "Removed "+installed) {
			t.Fatalf("exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
		}
		if _, err := os.Stat(installed); !os.IsNotExist(err) {
			t.Error("driver left")
		}
	})

	t.Run("kmod with no prebuilt driver is built", func(t *testing.T) {
		forget()
		repo.mu.Lock()
		repo.codes[koPath] = 404
		repo.mu.Unlock()
		r := p.run(append([]string{"kmod"}, kernel...)...)
		if r.Code != 0 {
			t.Fatalf("exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
		}
		mustContain(t, "stdout", r.Stdout, "Built and installed the falco kmod driver", "built   dkms", "skipped "+repo.URL+koPath)
		if vm := moduleVermagic(t, installed); !strings.HasPrefix(vm, release+" ") {
			t.Errorf("vermagic %q", vm)
		}
		if vm := moduleVermagic(t, cached); !strings.HasPrefix(vm, release+" ") {
			t.Errorf("cached vermagic %q", vm)
		}
		p.run("--clean")
	})

	t.Run("--compile", func(t *testing.T) {
		forget()
		n := len(repo.requests())
		r := p.run(append([]string{"kmod", "--compile"}, kernel...)...)
		if r.Code != 0 || len(repo.requests()) != n {
			t.Fatalf("exit %d, %d requests: %s%s", r.Code, len(repo.requests())-n, r.Stdout, r.Stderr)
		}
		mustContain(t, "stdout", r.Stdout, "Built and installed the falco kmod driver")
		if vm := moduleVermagic(t, installed); !strings.HasPrefix(vm, release+" ") {
			t.Errorf("vermagic %q", vm)
		}
		p.run("--clean")
	})

	t.Run("modern_ebpf", func(t *testing.T) {
		r := p.run("modern_ebpf")
		if r.Code != 0 || engineKindFile(t) != "modern_ebpf" || !strings.Contains(r.Stdout, "Nothing to install for modern_ebpf") {
			t.Fatalf("exit %d, kind %q: %s%s", r.Code, engineKindFile(t), r.Stdout, r.Stderr)
		}
	})

	t.Run("--http-insecure", func(t *testing.T) {
		forget()
		secure := newDriverRepo(t, true) // a self-signed certificate
		secure.mu.Lock()
		secure.files[koPath] = []byte("prebuilt module")
		secure.mu.Unlock()
		p.setRepos(secure.URL)
		r := p.run(append([]string{"kmod", "--download"}, kernel...)...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "certificate") {
			t.Fatalf("without --http-insecure: exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
		}
		r = p.run(append([]string{"kmod", "--download", "--http-insecure"}, kernel...)...)
		if got, _ := os.ReadFile(installed); r.Code != 0 || string(got) != "prebuilt module" {
			t.Fatalf("with --http-insecure: exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
		}
	})
}
