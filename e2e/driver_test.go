package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// A Debian 12 cloud host, as falcoctl's own example has it.
const (
	debianOSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`
	debianRelease = "6.1.0-10-cloud-amd64"
	debianVersion = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.38-2 (2023-07-27)"
	driverVersion = "8.0.0+driver"
	debianKo      = "falco_debian_6.1.38-2-cloud-amd64_1.ko"
	debianProbe   = "falco_debian_6.1.38-2-cloud-amd64_1.o"
)

func driverArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return runtime.GOARCH
}

// driverRepo is a driver repository over HTTP that counts requests.
type driverRepo struct {
	URL     string
	srv     *httptest.Server
	mu      sync.Mutex
	files   map[string][]byte
	codes   map[string]int
	reqs    []string
	headers map[string]http.Header
}

func newDriverRepo(t *testing.T, tls bool) *driverRepo {
	t.Helper()
	r := &driverRepo{files: map[string][]byte{}, codes: map[string]int{}, headers: map[string]http.Header{}}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p := req.URL.EscapedPath()
		r.mu.Lock()
		r.reqs = append(r.reqs, p)
		r.headers[p] = req.Header.Clone()
		body, ok := r.files[p]
		code := r.codes[p]
		r.mu.Unlock()
		switch {
		case code != 0:
			w.WriteHeader(code)
		case ok:
			_, _ = w.Write(body)
		default:
			http.NotFound(w, req)
		}
	})
	if tls {
		r.srv = httptest.NewTLSServer(h)
	} else {
		r.srv = httptest.NewServer(h)
	}
	t.Cleanup(r.srv.Close)
	r.URL = r.srv.URL
	return r
}

// path is where the repository serves file of driverVersion.
func (r *driverRepo) path(file string) string {
	return "/8.0.0%2Bdriver/" + driverArch() + "/" + file
}

func (r *driverRepo) fileURL(file string) string { return r.URL + r.path(file) }

func (r *driverRepo) put(file string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[r.path(file)] = body
}

func (r *driverRepo) fail(file string, code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.codes[r.path(file)] = code
}

// header is the named header of the last request for file.
func (r *driverRepo) header(file, name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.headers[r.path(file)].Get(name)
}

func (r *driverRepo) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reqs...)
}

func sha256Hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// debianHost writes a Debian host root; its os-release is a relative link
// into usr/lib, as on the real system.
func debianHost(t *testing.T, e *env) string {
	t.Helper()
	e.write("host/usr/lib/os-release", debianOSRelease)
	e.write("host/etc/debian_version", "12.1\n")
	if err := os.Symlink("../usr/lib/os-release", e.path("host", "etc", "os-release")); err != nil {
		t.Fatal(err)
	}
	return e.path("host")
}

// driverArgs are the flags naming the Debian host and the driver.
func driverArgs(host string, typ string, repos ...*driverRepo) []string {
	args := []string{"--host-root", host, "--kernelrelease", debianRelease, "--kernelversion", debianVersion,
		"--version", driverVersion, "--type", typ}
	for _, r := range repos {
		args = append(args, "--repo", r.URL)
	}
	return args
}

func driverCmd(sub string, args ...string) []string { return append([]string{"driver", sub}, args...) }

func (e *env) installedDriver(host, file string) string {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(host, "root", ".falco", driverVersion, driverArch(), file))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(data)
}

func mustContain(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

func TestDriverInstallThenCacheHit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	repo := newDriverRepo(t, false)
	ko := []byte("\x7fELF prebuilt module")
	repo.put(debianKo, ko)

	r := e.ok(driverCmd("install", driverArgs(host, "kmod", repo)...)...)
	mustContain(t, "stdout", r.Stdout,
		"Installed the falco kmod driver 8.0.0+driver for debian 6.1.38-2-cloud-amd64 (1)",
		"from    "+repo.fileURL(debianKo),
		"sha256  "+sha256Hex(ko)+" (not verified",
		filepath.Join(host, "root", ".falco", driverVersion, driverArch(), debianKo),
		e.path(".falco", driverVersion, driverArch(), debianKo))
	if r.Stderr != "" {
		t.Errorf("stderr: %s", r.Stderr)
	}
	if got := e.installedDriver(host, debianKo); got != string(ko) {
		t.Errorf("installed %q", got)
	}
	if got := e.read(".falco", driverVersion, driverArch(), debianKo); got != string(ko) {
		t.Errorf("cached %q", got)
	}
	if got := repo.requests(); len(got) != 2 || got[0] != repo.path(debianKo) || got[1] != repo.path(debianKo)+".sha256" {
		t.Errorf("requests %v", got)
	}
	var st struct {
		Files []struct{ Path, SHA256 string }
	}
	if err := json.Unmarshal([]byte(e.read("state", "driver-state.json")), &st); err != nil || len(st.Files) != 1 || st.Files[0].SHA256 != sha256Hex(ko) {
		t.Errorf("state %+v, %v", st, err)
	}

	// Second run: the cache answers, no request at all.
	r = e.ok(driverCmd("install", driverArgs(host, "kmod", repo)...)...)
	mustContain(t, "stdout", r.Stdout, "is up to date", "from    cache "+e.path(".falco", driverVersion, driverArch(), debianKo))
	if n := len(repo.requests()); n != 2 {
		t.Errorf("cache hit made %d requests", n-2)
	}
	r = e.ok(append(driverCmd("install", driverArgs(host, "kmod", repo)...), "-o", "json")...)
	var res struct {
		Status string
		Cached bool
		Path   string
		Target struct{ TargetID string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil || res.Status != "up-to-date" || !res.Cached || res.Target.TargetID != "debian" {
		t.Errorf("json %+v, %v:\n%s", res, err, r.Stdout)
	}
	if n := len(repo.requests()); n != 2 {
		t.Errorf("cache hit made %d requests", n-2)
	}

	// A second host root is installed from the same cache.
	other := e.path("host2")
	if err := os.CopyFS(other, os.DirFS(host)); err != nil {
		t.Fatal(err)
	}
	e.ok(driverCmd("install", driverArgs(other, "kmod", repo)...)...)
	if got := e.installedDriver(other, debianKo); got != string(ko) || len(repo.requests()) != 2 {
		t.Errorf("installed %q with %d requests", got, len(repo.requests()))
	}
}

func TestDriverRepositoriesInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	first, second := newDriverRepo(t, false), newDriverRepo(t, false)
	second.put(debianKo, []byte("module"))
	second.put(debianKo+".sha256", []byte(sha256Hex([]byte("module"))+"  "+debianKo+"\n"))

	r := e.ok(driverCmd("install", driverArgs(host, "kmod", first, second)...)...)
	mustContain(t, "stdout", r.Stdout, "from    "+second.fileURL(debianKo), "skipped "+first.fileURL(debianKo)+" (404 Not Found)", "(verified: sha256 sidecar)")
	if got := first.requests(); len(got) != 1 {
		t.Errorf("first repository: %v", got)
	}
	if got := second.requests(); len(got) != 2 {
		t.Errorf("second repository: %v", got)
	}
}

func TestDriverServerError(t *testing.T) {
	t.Parallel() // the client retries 5xx answers with backoff: seconds of waiting
	e := newEnv(t)
	host := debianHost(t, e)
	broken, good := newDriverRepo(t, false), newDriverRepo(t, false)
	broken.fail(debianKo, http.StatusInternalServerError)

	r := e.ferry(driverCmd("install", driverArgs(host, "kmod", broken)...)...)
	oneLine(t, r, 1, "could not download", broken.fileURL(debianKo), "500 Internal Server Error")
	if len(broken.requests()) < 1 {
		t.Error("no request")
	}

	// With another repository after it, the 500 is skipped.
	good.put(debianKo, []byte("module"))
	r = e.ok(driverCmd("install", driverArgs(host, "kmod", broken, good)...)...)
	mustContain(t, "stdout", r.Stdout, "from    "+good.fileURL(debianKo), "(500 Internal Server Error)")
}

func TestDriverCorruptFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	repo := newDriverRepo(t, false)
	good := []byte("the real module")
	repo.put(debianKo, []byte("a corrupted module"))

	r := e.ferry(append(driverCmd("install", driverArgs(host, "kmod", repo)...), "--sha256", sha256Hex(good))...)
	oneLine(t, r, 5, "digest mismatch", sha256Hex(good))

	// The repository's own sidecar says the file is corrupt.
	repo.put(debianKo+".sha256", []byte(sha256Hex(good)+"\n"))
	r = e.ferry(driverCmd("install", driverArgs(host, "kmod", repo)...)...)
	oneLine(t, r, 5, "digest mismatch", ".sha256 says")

	for _, p := range []string{e.path(".falco", driverVersion, driverArch(), debianKo), filepath.Join(host, "root", ".falco")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after a failed verification", p)
		}
	}
}

func TestDriverNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	a, b := newDriverRepo(t, false), newDriverRepo(t, false)
	r := e.ferry(driverCmd("install", driverArgs(host, "kmod", a, b)...)...)
	oneLine(t, r, 3, "no prebuilt falco kmod driver 8.0.0+driver for debian 6.1.38-2-cloud-amd64 (1)",
		a.fileURL(debianKo)+" (404 Not Found)", b.fileURL(debianKo)+" (404 Not Found)",
		"hint: ", "kernel headers", "--type modern_ebpf")

	// The same through the library's sentinel for an undeterminable host.
	r = e.ferry(driverCmd("install", driverArgs(e.path("empty"), "kmod", a)...)...)
	if r.Code != 3 || !strings.Contains(r.Stderr, "cannot determine") {
		t.Errorf("exit %d: %s", r.Code, r.Stderr)
	}
}

// A repository answering 401 or 403 is an authorization failure when no
// repository had anything else to say (exit 4), and is skipped when
// another has the driver; a server error among the answers is exit 1,
// and one repository's 404 does not make it a not-found.
func TestDriverUnauthorized(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	unauthorized, forbidden, missing, broken, good := newDriverRepo(t, false), newDriverRepo(t, false), newDriverRepo(t, false), newDriverRepo(t, false), newDriverRepo(t, false)
	unauthorized.fail(debianKo, http.StatusUnauthorized)
	forbidden.fail(debianKo, http.StatusForbidden)
	broken.fail(debianKo, http.StatusInternalServerError)
	good.put(debianKo, []byte("module"))
	what := "falco kmod driver 8.0.0+driver for debian 6.1.38-2-cloud-amd64 (1)"
	for _, c := range []struct {
		name  string
		repos []*driverRepo
		code  int
		want  []string
	}{
		{"401", []*driverRepo{unauthorized}, 4, []string{"could not download the " + what, unauthorized.fileURL(debianKo) + " (401 Unauthorized)"}},
		{"403", []*driverRepo{forbidden}, 4, []string{forbidden.fileURL(debianKo) + " (403 Forbidden)"}},
		{"404 then 403", []*driverRepo{missing, forbidden}, 4, []string{missing.fileURL(debianKo) + " (404 Not Found)", forbidden.fileURL(debianKo) + " (403 Forbidden)"}},
		{"401 then 500", []*driverRepo{unauthorized, broken}, 1, []string{"(401 Unauthorized)", "answered 500 Internal Server Error"}},
		{"404 then 500", []*driverRepo{missing, broken}, 1, []string{"could not download the " + what, "(404 Not Found)", "answered 500 Internal Server Error"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// No retry of the 500 (TestDriverServerError waits for them): the
			// server's answer all the same, not a network error.
			args := append(driverCmd("install", driverArgs(host, "kmod", c.repos...)...), "--retry-timeout", "1ms")
			r := e.ferry(args...)
			oneLine(t, r, c.code, c.want...)
			if strings.Contains(r.Stderr, "network error") {
				t.Errorf("a 500 called a network error: %s", r.Stderr)
			}
		})
	}
	r := e.ok(driverCmd("install", driverArgs(host, "kmod", unauthorized, forbidden, good)...)...)
	mustContain(t, "stdout", r.Stdout, "from    "+good.fileURL(debianKo), "skipped "+unauthorized.fileURL(debianKo)+" (401 Unauthorized)",
		"skipped "+forbidden.fileURL(debianKo)+" (403 Forbidden)")
}

func TestDriverPrintenv(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	args := []string{"--host-root", host, "--kernelrelease", debianRelease, "--kernelversion", debianVersion,
		"--version", driverVersion, "--type", "kmod", "--repo", "https://a.example/driver", "--repo", "https://b.example/driver"}
	r := e.ok(driverCmd("printenv", args...)...)
	want := `DRIVER="kmod"
DRIVERS_REPO="https://a.example/driver, https://b.example/driver"
DRIVER_VERSION="8.0.0+driver"
DRIVER_NAME="falco"
HOST_ROOT="` + host + `"
TARGET_ID="debian"
ARCH="` + driverArch() + `"
KERNEL_RELEASE="6.1.0-10-cloud-amd64"
KERNEL_VERSION="#1 SMP PREEMPT_DYNAMIC Debian 6.1.38-2 (2023-07-27)"
FIXED_KERNEL_RELEASE="6.1.38-2-cloud-amd64"
FIXED_KERNEL_VERSION="1"
`
	if r.Stdout != want {
		t.Errorf("printenv:\n%s\nwant:\n%s", r.Stdout, want)
	}

	r = e.ok(append(driverCmd("printenv", args...), "-o", "json")...)
	var v struct {
		Driver, TargetID, FixedKernelRelease, FixedKernelVersion string
		DriversRepo, URLs                                        []string
	}
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
		t.Fatal(err)
	}
	if v.Driver != "kmod" || v.TargetID != "debian" || v.FixedKernelRelease != "6.1.38-2-cloud-amd64" || v.FixedKernelVersion != "1" ||
		len(v.DriversRepo) != 2 || len(v.URLs) != 2 || v.URLs[0] != "https://a.example/driver/8.0.0%2Bdriver/"+driverArch()+"/"+debianKo {
		t.Errorf("json %+v", v)
	}

	// auto picks the modern probe on 6.1, the module on an old kernel; the
	// driver version comes from the host's /usr/src when not given.
	e.write("host/usr/src/falco-7.0.0+driver/Makefile", "")
	r = e.ok(driverCmd("printenv", "--host-root", host, "--kernelrelease", "3.10.0-1160.el7.x86_64", "--kernelversion", "#1 SMP", "--type", "auto")...)
	mustContain(t, "stdout", r.Stdout, `DRIVER="kmod"`, `DRIVER_VERSION="7.0.0+driver"`, `FIXED_KERNEL_VERSION="1"`)
	r = e.ok(driverCmd("printenv", args[:6]...)...)
	mustContain(t, "stdout", r.Stdout, `DRIVER="modern_ebpf"`)
}

func TestDriverConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	falcoDir := e.path("etc-falco")
	path := filepath.Join(falcoDir, "config.d", "engine-kind-falcoctl.yaml")
	cfg := e.path("config", "ferry", "config.yaml")

	r := e.ok("driver", "config", "--type", "kmod", "--host-root", host, "--falco-config-dir", falcoDir)
	mustContain(t, "stdout", r.Stdout, "Configured Falco for kmod in "+path, "Stored driver type kmod in "+cfg)
	if got := e.read("etc-falco", "config.d", "engine-kind-falcoctl.yaml"); got != "engine:\n    kind: kmod\n" {
		t.Errorf("config %q", got)
	}
	// The choice is in the config file's driver section, falcoctl's shape.
	mustContain(t, "config", e.read("config", "ferry", "config.yaml"), "driver:\n", "type:\n    - kmod\n", "name: falco\n", "hostRoot: "+host+"\n")
	r = e.ok("driver", "config", "--type", "kmod", "--host-root", host, "--falco-config-dir", falcoDir)
	mustContain(t, "stdout", r.Stdout, "already configured for kmod")

	// The next command without --type uses it: printenv says kmod on a
	// kernel where auto would choose modern_ebpf; so does install.
	r = e.ok("driver", "printenv", "--kernelrelease", debianRelease, "--kernelversion", debianVersion, "--version", driverVersion)
	mustContain(t, "stdout", r.Stdout, `DRIVER="kmod"`, `HOST_ROOT="`+host+`"`)

	r = e.ok("driver", "config", "--type", "auto", "--host-root", host, "--kernelrelease", debianRelease, "--kernelversion", debianVersion,
		"--falco-config-dir", falcoDir, "-o", "json")
	mustContain(t, "stdout", r.Stdout, `"kind": "modern_ebpf"`, `"changed": true`)
	if got := e.read("etc-falco", "config.d", "engine-kind-falcoctl.yaml"); got != "engine:\n    kind: modern_ebpf\n" {
		t.Errorf("config %q", got)
	}
	// A Falco that runs no driver is left alone; --update-falco=false
	// only stores the choice.
	e.write("etc-falco/falco.yaml", "engine:\n  kind: nodriver\n")
	r = e.ok("driver", "config", "--type", "kmod", "--host-root", host, "--falco-config-dir", falcoDir)
	mustContain(t, "stdout", r.Stdout, "left alone", `"nodriver"`, "Stored driver type kmod")
	r = e.ok("driver", "config", "--type", "ebpf", "--host-root", host, "--falco-config-dir", falcoDir, "--update-falco=false")
	if strings.Contains(r.Stdout, "Falco") || e.read("etc-falco", "config.d", "engine-kind-falcoctl.yaml") != "engine:\n    kind: modern_ebpf\n" {
		t.Errorf("--update-falco=false: %s", r.Stdout)
	}
	mustContain(t, "config", e.read("config", "ferry", "config.yaml"), "- ebpf\n")

	oneLine(t, e.ferry("driver", "config", "--type", "module", "--host-root", host), 2, "--type")
	oneLine(t, e.ferry("driver", "config", "--type", "kmod", "--host-root", "relative/host"), 2, "--host-root")

	// Falco's chart (driver.kind auto) names its ConfigMap, which falcoctl
	// reads only to check Falco runs with a driver: ferry says it does not
	// read it and writes the drop-in the chart shares with Falco. Through
	// falcoctl's environment, as the chart sets it, in falcoctl mode.
	// (--config keeps falcoctl's file in the test's directory; the chart's
	// driver loader mounts only Falco's config.d.)
	chartDir := e.path("chart-config")
	fc := newFalcoctlEnv(t)
	fcConfig := fc.path("falcoctl.yaml")
	if err := os.WriteFile(fcConfig, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fc.vars = append(fc.vars, "FALCOCTL_DRIVER_CONFIG_NAMESPACE=falco", "FALCOCTL_DRIVER_CONFIG_CONFIGMAP=falco-cm")
	r = fc.run("driver", "config", "--config", fcConfig, "--type", "kmod", "--host-root", host, "--falco-config-dir", chartDir)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
	}
	mustContain(t, "stderr", r.Stderr, "ConfigMap falco/falco-cm is not read", filepath.Join(chartDir, "config.d"))
	if got := e.read("chart-config", "config.d", "engine-kind-falcoctl.yaml"); got != "engine:\n    kind: kmod\n" {
		t.Errorf("config %q", got)
	}
	// FALCOCTL_DRIVER_CONFIG_UPDATE_FALCO=false (the chart's other case)
	// leaves Falco's drop-in alone.
	fc.vars = append(fc.vars[:len(fc.vars)-2], "FALCOCTL_DRIVER_CONFIG_UPDATE_FALCO=false")
	r = fc.run("driver", "config", "--config", fcConfig, "--type", "modern_ebpf", "--host-root", host, "--falco-config-dir", chartDir)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
	}
	if got := e.read("chart-config", "config.d", "engine-kind-falcoctl.yaml"); got != "engine:\n    kind: kmod\n" {
		t.Errorf("config after update_falco=false %q", got)
	}
}

// HOST_ROOT names the host root when --host-root does not, as in falcoctl.
func TestDriverHostRootEnv(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	e.vars = append(e.vars, "HOST_ROOT="+host)
	r := e.ok("driver", "printenv", "--kernelrelease", debianRelease, "--kernelversion", debianVersion, "--version", driverVersion, "--type", "kmod")
	mustContain(t, "stdout", r.Stdout, `HOST_ROOT="`+host+`"`, `TARGET_ID="debian"`, `FIXED_KERNEL_RELEASE="6.1.38-2-cloud-amd64"`)
	r = e.ok("driver", "printenv", "--host-root", "/", "--kernelrelease", debianRelease, "--kernelversion", debianVersion, "--version", driverVersion, "--type", "kmod")
	mustContain(t, "stdout", r.Stdout, `HOST_ROOT="/"`)
	// Without a driver version printenv fails, as falcoctl's does.
	oneLine(t, e.ferry("driver", "printenv", "--kernelrelease", debianRelease, "--kernelversion", debianVersion), 2, "--version is required")
}

func TestDriverCleanup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	repo := newDriverRepo(t, false)
	repo.put(debianKo, []byte("module"))
	repo.put(debianProbe, []byte("probe"))
	e.ok(driverCmd("install", driverArgs(host, "kmod", repo)...)...)
	r := e.ok(driverCmd("install", driverArgs(host, "ebpf", repo)...)...)
	link := filepath.Join(host, "root", ".falco", "falco-bpf.o")
	mustContain(t, "stdout", r.Stdout, "link    "+link)
	if target, err := os.Readlink(link); err != nil || target != filepath.Join(driverVersion, driverArch(), debianProbe) {
		t.Errorf("link -> %q, %v", target, err)
	}

	r = e.ok("driver", "cleanup", "--dry-run")
	mustContain(t, "stdout", r.Stdout, "Would remove "+link, "Would remove "+filepath.Join(host, "root", ".falco", driverVersion, driverArch(), debianKo))
	if _, err := os.Lstat(link); err != nil {
		t.Error("dry run removed the link")
	}

	r = e.ok("driver", "cleanup")
	if strings.Count(r.Stdout, "Removed ") != 4 || !strings.Contains(r.Stdout, "Removed "+e.path(".falco", "falco-bpf.o")) {
		t.Errorf("stdout:\n%s", r.Stdout)
	}
	if _, err := os.Stat(filepath.Join(host, "root", ".falco", driverVersion)); !os.IsNotExist(err) {
		t.Error("emptied directories left behind")
	}
	if _, err := os.Stat(e.path("state", "driver-state.json")); !os.IsNotExist(err) {
		t.Error("state file left behind")
	}
	if _, err := os.Stat(e.path(".falco", driverVersion, driverArch(), debianKo)); err != nil {
		t.Error("cleanup emptied the cache")
	}
	r = e.ok("driver", "cleanup")
	mustContain(t, "stdout", r.Stdout, "Nothing to clean up")
}

func TestDriverModernEBPF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	repo := newDriverRepo(t, false)
	r := e.ok(driverCmd("install", driverArgs(host, "modern_ebpf", repo)...)...)
	mustContain(t, "stdout", r.Stdout, "Nothing to install for modern_ebpf", "built into Falco")
	if len(repo.requests()) != 0 {
		t.Errorf("requests %v", repo.requests())
	}
	// No version is needed either.
	e.ok("driver", "install", "--host-root", host, "--kernelrelease", debianRelease, "--kernelversion", debianVersion, "--type", "auto")
}

// fakeModuleTools puts rmmod, insmod and chcon first in PATH; they record
// their arguments in calls.log instead of touching the kernel.
func fakeModuleTools(t *testing.T, e *env) string {
	t.Helper()
	log := e.path("calls.log")
	for _, tool := range []string{"insmod", "rmmod", "chcon", "modprobe"} {
		e.write("fakebin/"+tool, "#!/bin/sh\necho \""+tool+" $*\" >> '"+log+"'\n")
		if err := os.Chmod(e.path("fakebin", tool), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range e.vars {
		if strings.HasPrefix(v, "PATH=") {
			e.vars[i] = "PATH=" + e.path("fakebin") + string(os.PathListSeparator) + strings.TrimPrefix(v, "PATH=")
		}
	}
	return log
}

func TestDriverLoad(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	log := fakeModuleTools(t, e)
	repo := newDriverRepo(t, false)
	repo.put(debianKo, []byte("module"))
	installed := filepath.Join(host, "root", ".falco", driverVersion, driverArch(), debianKo)

	r := e.ok(append(driverCmd("install", driverArgs(host, "kmod", repo)...), "--load", "--dry-run")...)
	mustContain(t, "stdout", r.Stdout, "Would install", "try     "+repo.fileURL(debianKo),
		"would run  rmmod falco   (if falco is loaded)", "would run  insmod "+installed)
	if len(repo.requests()) != 0 {
		t.Errorf("dry run made requests: %v", repo.requests())
	}
	for _, p := range []string{log, filepath.Join(host, "root"), e.path(".falco"), e.path("state")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("dry run created %s", p)
		}
	}

	r = e.ok(append(driverCmd("install", driverArgs(host, "kmod", repo)...), "--load")...)
	mustContain(t, "stdout", r.Stdout, "ran     insmod "+installed)
	calls := e.read("calls.log")
	if !strings.Contains(calls, "insmod "+installed+"\n") || !strings.Contains(calls, "chcon -t modules_object_t "+installed+"\n") {
		t.Errorf("calls:\n%s", calls)
	}
	var st struct{ Loaded []string }
	if err := json.Unmarshal([]byte(e.read("state", "driver-state.json")), &st); err != nil || len(st.Loaded) != 1 || st.Loaded[0] != "falco" {
		t.Errorf("state %+v, %v", st, err)
	}

	// insmod failing is an error with a hint; the driver stays installed.
	e.write("fakebin/insmod", "#!/bin/sh\necho 'insmod: ERROR: could not insert module: Operation not permitted' >&2\nexit 1\n")
	r = e.ferry(append(driverCmd("install", driverArgs(host, "kmod", repo)...), "--load")...)
	// The kernel release given is not the running one: a warning says so
	// before the error.
	if r.Code != 1 || !strings.Contains(r.Stderr, "level=WARN") || !strings.Contains(r.Stderr, "is running; insmod will likely refuse it") {
		t.Errorf("exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
	if i := strings.Index(r.Stderr, "error: "); i < 0 {
		t.Errorf("no error line:\n%s", r.Stderr)
	} else {
		oneLine(t, result{Stderr: r.Stderr[i:], Code: r.Code}, 1, "Operation not permitted", "hint: ", "root")
	}
	if e.installedDriver(host, debianKo) != "module" {
		t.Error("driver removed")
	}
}

func TestDriverBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	repo := newDriverRepo(t, false)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"relative host root", driverCmd("install", driverArgs("host", "kmod", repo)...), "--host-root"},
		{"bad type", driverCmd("install", driverArgs(host, "kmod,nope", repo)...), "nope"},
		{"bad repo", driverCmd("install", append(driverArgs(host, "kmod"), "--repo", "ftp://x")...), "ftp://x"},
		{"bad sha256", append(driverCmd("install", driverArgs(host, "kmod", repo)...), "--sha256", "abc"), "--sha256"},
		{"no version", driverCmd("install", "--host-root", host, "--kernelrelease", debianRelease, "--kernelversion", debianVersion, "--type", "kmod", "--repo", repo.URL), "--version"},
		{"extra argument", driverCmd("printenv", "extra"), "extra"},
		// A file name component that is not one path element never leaves
		// its directory: refused before any request.
		{"kernel release climbing out", driverCmd("install", "--host-root", host, "--kernelrelease", "../../../../tmp/x/PWNED",
			"--kernelversion", debianVersion, "--version", driverVersion, "--type", "kmod", "--repo", repo.URL), "kernel release \"../../../../tmp/x/PWNED\" is not a single safe path element"},
	} {
		t.Run(c.name, func(t *testing.T) { oneLine(t, e.ferry(c.args...), 2, c.want) })
	}
	// An os-release ID="../../x" is refused the same way.
	e.write("hostile/etc/os-release", "ID=\"../../x\"\n")
	oneLine(t, e.ferry(driverCmd("install", driverArgs(e.path("hostile"), "kmod", repo)...)...), 2, `target id "../../x" is not a single safe path element`)
	if len(repo.requests()) != 0 {
		t.Errorf("requests %v", repo.requests())
	}
	if _, err := os.Stat("/tmp/x/PWNED_1.ko"); err == nil {
		t.Error("wrote outside the directories")
	}
}

// A driver download emits artifact.downloaded, its subject a generic
// package URL; a cache hit downloads nothing and emits nothing.
func TestDriverInstallEmitsDownloaded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := debianHost(t, e)
	repo := newDriverRepo(t, false)
	ko := []byte("\x7fELF prebuilt module")
	repo.put(debianKo, ko)
	rc := newReceiver(t)
	e.vars = append(e.vars, "FERRY_EVENTS_SINK="+rc.srv.URL)
	e.ok(driverCmd("install", driverArgs(host, "kmod", repo)...)...)
	evs := rc.got()
	if len(evs) != 1 || evs[0].Type() != "dev.cdevents.artifact.downloaded.0.2.0" ||
		!strings.HasPrefix(evs[0].Subject(), "pkg:generic/falco@8.0.0%2Bdriver?checksum=sha256:"+sha256Hex(ko)+"&download_url=") {
		t.Fatalf("events after a driver install: %v", evs)
	}
	e.ok(driverCmd("install", driverArgs(host, "kmod", repo)...)...)
	if n := len(rc.got()); n != 1 {
		t.Errorf("a cache hit emitted %d events", n-1)
	}
}
