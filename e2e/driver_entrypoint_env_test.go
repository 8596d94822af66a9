package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// The entrypoint's documented environment, FALCOCTL_DRIVER_REPOS and
// FALCOCTL_DRIVER_NAME, reaches the driver commands as falcoctl maps it
// onto their --repo and --name (no driver section in any config file).
func TestDriverLoaderEntrypointFalcoctlEnv(t *testing.T) {
	t.Parallel()
	p, release := newEntrypointEnv(t)
	if p == nil {
		return
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
