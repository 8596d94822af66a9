package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// The entrypoint's documented environment, FALCOCTL_DRIVER_REPOS and
// FALCOCTL_DRIVER_NAME, reaches the driver commands as falcoctl maps it
// onto their --repo and --name (no driver section in any config file).
func TestDriverLoaderEntrypointFalcoctlEnv(t *testing.T) {
	release := needBuildTools(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("the entrypoint needs bash")
	}
	if !testutil.PrivateMounts(t, "/usr/src", "/lib/modules", "/var/lib/dkms", "/etc", "/usr/bin") {
		return
	}
	e := newEnv(t)
	vars := e.vars[:0]
	for _, v := range e.vars {
		if !strings.HasPrefix(v, "FERRY_FALCO_CONFIG_DIR=") {
			vars = append(vars, v)
		}
	}
	e.vars = vars
	fakeModuleTools(t, e)
	p := &entrypointEnv{env: e, host: debianHost(t, e)}
	data, err := os.ReadFile(ferryBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/usr/bin/falcoctl", data, 0o755); err != nil {
		t.Fatal(err)
	}
	// The driver version comes from the sources of the named driver, as
	// falcoctl finds them under /usr/src.
	installSources(t, filepath.Join(p.host, "usr", "src", "myfalco-"+buildVersion), buildVersion, nil)
	empty, repo := newDriverRepo(t, false), newDriverRepo(t, false)
	kver, _ := debianKernelVersion(t, release)
	ko := "myfalco_debian_" + release + "_1.ko"
	koPath := "/9.9.9%2Bdriver/" + driverArch() + "/" + ko
	repo.mu.Lock()
	repo.files[koPath] = []byte("prebuilt module")
	repo.mu.Unlock()
	p.vars = append(p.vars, "FALCOCTL_DRIVER_REPOS="+empty.URL+","+repo.URL, "FALCOCTL_DRIVER_NAME=myfalco")

	r := p.run("--print-env")
	mustContain(t, "stdout", r.Stdout, `DRIVER_NAME="myfalco"`, `DRIVERS_REPO="`+empty.URL+", "+repo.URL+`"`)

	r = p.run("kmod", "--download", "--kernel-release", release, "--kernel-version", kver)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
	}
	mustContain(t, "stdout", r.Stdout, "Installed the myfalco kmod driver", "from    "+repo.URL+koPath, "skipped "+empty.URL+koPath)
	if got, err := os.ReadFile(filepath.Join(p.host, "root", ".falco", buildVersion, driverArch(), ko)); err != nil || string(got) != "prebuilt module" {
		t.Errorf("installed %q, %v", got, err)
	}
}
