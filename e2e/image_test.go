package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// podman runs podman with its configuration and all its state (images,
// containers, temporary files) in one temporary directory, as
// scripts/podman-setup writes it: the machine's podman is not touched.
type podman struct {
	t   *testing.T
	env []string
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed, so ferry's image is neither built nor run (scripts/podman-setup --install installs it; .ci/run does)")
	}
	dir := t.TempDir()
	out, err := exec.Command(filepath.Join("..", "scripts", "podman-setup"), dir).Output()
	if err != nil {
		t.Fatalf("scripts/podman-setup: %v", err)
	}
	var vars []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		kv, ok := strings.CutPrefix(line, "export ")
		if !ok || !strings.Contains(kv, "=") {
			t.Fatalf("scripts/podman-setup printed %q", line)
		}
		vars = append(vars, kv)
	}
	env := withoutVar(withoutVar(os.Environ(), "CONTAINERS_CONF"), "CONTAINERS_STORAGE_CONF")
	return &podman{t: t, env: append(env, vars...)}
}

func (p *podman) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "podman", args...)
	cmd.Env = p.env
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// run runs podman and returns what it printed and its exit code.
func (p *podman) run(args ...string) result {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return runCommand(p.t, p.command(ctx, args...))
}

func (p *podman) ok(args ...string) result {
	p.t.Helper()
	r := p.run(args...)
	if r.Code != 0 {
		p.t.Fatalf("podman %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// follow starts a container that runs until it is stopped, named name:
// args are podman run's, the first of them "run". SIGTERM to podman reaches
// the container's process (podman run proxies signals).
func (p *podman) follow(name string, args ...string) *follower {
	p.t.Helper()
	if len(args) == 0 || args[0] != "run" {
		p.t.Fatalf("follow wants podman run arguments, not %q", args)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := p.command(ctx, append([]string{"run", "--name", name}, args[1:]...)...)
	fw := &follower{t: p.t, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = fw.stdout, fw.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		p.t.Fatal(err)
	}
	fw.proc = cmd.Process
	go func() { fw.done <- cmd.Wait() }()
	p.t.Cleanup(func() {
		_ = p.command(context.Background(), "rm", "--force", "--time", "0", name).Run()
		cancel()
	})
	return fw
}

// buildImage builds a static stripped ferry reporting version and, with
// scripts/image (what make image runs), the image from it; it returns the
// image's name (the falcoctl variant is NAME-falcoctl).
func (p *podman) buildImage(version string) string {
	p.t.Helper()
	dir := p.t.TempDir()
	bin := filepath.Join(dir, "ferry")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/ferryhq/ferry/internal/cli.Version="+version,
		"-o", bin, "./cmd/ferry")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		p.t.Fatalf("building ferry: %v\n%s", err, out)
	}
	img := exec.Command(filepath.Join("..", "scripts", "image"))
	img.Env = append(append([]string(nil), p.env...), "BIN="+bin, "OUT="+filepath.Join(dir, "image"),
		"IMAGE=localhost/ferry-e2e", "TAG="+version)
	out, err := img.CombinedOutput()
	if err != nil {
		p.t.Fatalf("scripts/image: %v\n%s", err, out)
	}
	name := "localhost/ferry-e2e:" + version
	for _, want := range []string{"same as the Dockerfile's", "image: " + name + "\n", "image: " + name + "-falcoctl\n"} {
		if !strings.Contains(string(out), want) {
			p.t.Fatalf("scripts/image did not print %q:\n%s", want, out)
		}
	}
	return name
}

// artifactDirs are the directories the chart mounts, on the host, writable
// by the image's user.
func artifactDirs(t *testing.T, e *env) (rules, plugins, state string) {
	t.Helper()
	for _, d := range []string{"rulesfiles", "plugins", "artifactstate"} {
		p := e.path("mnt", d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 65532, 65532); err != nil {
			// Not root: world-writable, as Kubernetes makes an emptyDir.
			if err := os.Chmod(p, 0o777); err != nil {
				t.Fatal(err)
			}
		}
	}
	return e.path("mnt", "rulesfiles"), e.path("mnt", "plugins"), e.path("mnt", "artifactstate")
}

// serveIndex serves an index file over HTTP on the loopback interface.
func serveIndex(t *testing.T, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/index.yaml"
}

// publishPlugin pushes a plugin for this machine's platform.
func publishPlugin(t *testing.T, e *env, repo, version string) {
	t.Helper()
	src := e.write("src/libplug.so", "plug "+version)
	e.ok("artifact", "push", repo, src, "--type", "plugin", "--version", version, "--platform", "linux/"+runtime.GOARCH)
}

// unprivileged are the podman run options every artifact run uses: the
// host's network (the registry listens on its loopback), a read-only root
// file system with no tmpfs on /tmp, /run and /var/tmp either (as
// Kubernetes' readOnlyRootFilesystem has it), and the image's unprivileged
// user.
var unprivileged = []string{"run", "--rm", "--network", "host", "--read-only", "--read-only-tmpfs=false", "--user", "65532"}

// TestImage builds ferry's image offline and runs it: installing a rules
// file and a plugin into mounted directories, following a newer version,
// printing the version, and the driver loader facade as root.
func TestImage(t *testing.T) {
	p := newPodman(t)
	reg := startRegistry(t, "")
	e := newEnv(t)
	const version = "v0.0.0-image.1"
	image := p.buildImage(version)

	// The two tags: ferry's entrypoint, and falcoctl's for Falco's chart.
	for _, c := range []struct{ tag, entrypoint string }{{image, "/usr/bin/ferry"}, {image + "-falcoctl", "/usr/bin/falcoctl"}} {
		r := p.ok("image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}}", c.tag)
		if want := fmt.Sprintf("65532:65532 [%q]", c.entrypoint); strings.TrimSpace(r.Stdout) != want {
			t.Errorf("%s: config %q, want %q", c.tag, strings.TrimSpace(r.Stdout), want)
		}
		r = p.ok(append(unprivileged, c.tag, "version")...)
		if !strings.Contains(r.Stdout, version) {
			t.Errorf("%s version: %q lacks %s", c.tag, r.Stdout, version)
		}
	}

	// The file system as imported (not --read-only, which mounts a tmpfs on
	// /tmp): Falco's directories and ferry's state owned by the image's
	// user, the binaries root's.
	r := p.ok("run", "--rm", "--entrypoint", "/bin/busybox", image, "stat", "-c", "%n %A %u:%g",
		"/etc/falco/assets", "/usr/share/falco/plugins", "/var/lib/ferry", "/home/ferry", "/tmp",
		"/usr/bin/ferry", "/usr/bin/falco-driver-loader", "/usr/bin/falcoctl", "/etc/ssl/certs/ca-certificates.crt")
	for _, want := range []string{
		"/etc/falco/assets drwxr-xr-x 65532:65532", "/usr/share/falco/plugins drwxr-xr-x 65532:65532",
		"/var/lib/ferry drwxr-xr-x 65532:65532", "/home/ferry drwxr-xr-x 65532:65532", "/tmp drwxrwxrwt 0:0",
		"/usr/bin/ferry -rwxr-xr-x 0:0", "/usr/bin/falco-driver-loader -rwxr-xr-x 0:0", "/usr/bin/falcoctl lrwxrwxrwx 0:0",
		"/etc/ssl/certs/ca-certificates.crt -rw-r--r-- 0:0",
	} {
		if !strings.Contains(r.Stdout, want+"\n") {
			t.Errorf("the image's file system lacks %q:\n%s", want, r.Stdout)
		}
	}

	rulesRepo := reg.Host + "/acme/rules/my-rules"
	publishRules(t, e, rulesRepo, "1.0.0")
	publishPlugin(t, e, reg.Host+"/acme/plugins/plugin/plug", "1.0.0")
	rules, plugins, state := artifactDirs(t, e)
	conf := e.write("etc-ferry/config.yaml", fmt.Sprintf(`defaults:
  rulesfiles-dir: /rulesfiles
  plugins-dir: /plugins
  state-dir: /artifactstate
registries:
  - host: %s
    plainHTTP: true
indexes:
  - name: acme
    url: %s
`, reg.Host, serveIndex(t, rulesIndex(reg.Host))))
	mounts := []string{
		"-v", filepath.Dir(conf) + ":/etc/ferry:ro", "-e", "FERRY_CONFIG=/etc/ferry/config.yaml",
		"-v", rules + ":/rulesfiles", "-v", plugins + ":/plugins", "-v", state + ":/artifactstate",
	}

	// Install, with no shell in the image at all: the artifact commands
	// never need one.
	noShell := []string{"-v", "/dev/null:/bin/busybox:ro"}
	args := append(append(append(append([]string(nil), unprivileged...), mounts...), noShell...), image, "artifact", "install", "rules:1.x", "plug:1.0.0")
	r = p.ok(args...)
	mustContain(t, "install stdout", r.Stdout, "Installed acme/rules 1.0.0 (rulesfile)", "Installed acme/plug 1.0.0 (plugin)", "/rulesfiles/my_rules.yaml")
	if got := e.read("mnt", "rulesfiles", "my_rules.yaml"); !strings.Contains(got, "version 1.0.0") {
		t.Errorf("installed rules file holds %q", got)
	}
	if got := e.read("mnt", "plugins", "libplug.so"); got != "plug 1.0.0" {
		t.Errorf("installed plugin holds %q", got)
	}
	for _, f := range []string{filepath.Join(rules, "my_rules.yaml"), filepath.Join(state, "state.json")} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 && st.Uid != 65532 {
			t.Errorf("%s is owned by uid %d, want 65532 (the image's user)", f, st.Uid)
		}
	}

	// Follow picks up a newer version, and stops on SIGTERM.
	args = append(append(append([]string(nil), unprivileged...), mounts...), image, "artifact", "follow", "rules:1.x", "--every", "300ms", "--jitter", "0", "-o", "json")
	fw := p.follow("ferry-e2e-follow", args...)
	fw.waitFor("a first check", func() bool { return len(fw.lines()) >= 1 })
	publishRules(t, e, rulesRepo, "1.1.0")
	fw.waitFor("1.1.0 installed by the container", func() bool {
		data, _ := os.ReadFile(filepath.Join(rules, "my_rules.yaml"))
		return strings.Contains(string(data), "version 1.1.0\n")
	})
	fw.stop()
	updated := false
	for _, l := range fw.lines() {
		for _, u := range l.Updated {
			updated = updated || u.Version == "1.1.0"
		}
	}
	if !updated {
		t.Errorf("follow did not report the update to 1.1.0:\n%s", fw.stdout)
	}

	// The driver loader facade runs as root with the host mounted.
	host := debianHost(t, e)
	r = p.ok("run", "--rm", "--network", "host", "--read-only", "--user", "0", "-v", host+":/host:ro",
		"-e", "HOST_ROOT=/host", "-e", "DRIVER_VERSION="+driverVersion, "-e", "DRIVER_NAME=myfalco",
		"-e", "DRIVERS_REPO=https://a.example/driver",
		"--entrypoint", "/usr/bin/falco-driver-loader", image,
		"--print-env", "kmod", "--kernel-release", debianRelease, "--kernel-version", debianVersion)
	for _, want := range []string{
		`DRIVER="kmod"`, `DRIVERS_REPO="https://a.example/driver"`, `DRIVER_VERSION="8.0.0+driver"`,
		`DRIVER_NAME="myfalco"`, `TARGET_ID="debian"`, `KERNEL_RELEASE="6.1.0-10-cloud-amd64"`,
		`FIXED_KERNEL_RELEASE="6.1.38-2-cloud-amd64"`,
	} {
		if !strings.Contains(r.Stdout, want+"\n") {
			t.Errorf("--print-env lacks %s:\n%s", want, r.Stdout)
		}
	}
}

// TestImageFalcoctlChart runs the image's falcoctl variant as Falco's chart
// runs falcosecurity/falcoctl: entrypoint falcoctl, only the init
// container's and the sidecar's exact arguments (_helpers.tpl with
// values.yaml's args), the rendered ConfigMap mounted at
// /etc/falcoctl/falcoctl.yaml, the chart's volumes at /plugins, /rulesfiles
// and /artifactstate, and a read-only root file system as uid 65532.
func TestImageFalcoctlChart(t *testing.T) {
	p := newPodman(t)
	e := newFalcoctlEnv(t)
	reg := startFalcoRegistry(t, e)
	image := p.buildImage("v0.0.0-image.2") + "-falcoctl"
	rules, plugins, state := artifactDirs(t, e.env)
	// The volume paths are the pod's own: only what points outside the test
	// is replaced (testdata/falco/README.md).
	config := e.write("pod/etc/falcoctl/falcoctl.yaml", reg.localize(falcoTestdata(t, "rendered/falcoctl.yaml"), nil))
	pod := append(append([]string(nil), unprivileged...),
		"-v", filepath.Dir(config)+":/etc/falcoctl:ro",
		"-v", plugins+":/plugins", "-v", rules+":/rulesfiles", "-v", state+":/artifactstate",
		// As falcoctl.artifact.{install,follow}.env would set it: the test
		// registry speaks plain HTTP.
		"-e", "FERRY_PLAIN_HTTP=true")

	// The init container.
	r := p.run(append(append(append([]string(nil), pod...), image), chartArgs(t, "install")...)...)
	if r.Code != 0 {
		t.Fatalf("init container: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	jsonLines(t, r.Stderr)
	if got := e.read("mnt", "rulesfiles", "falco_rules.yaml"); !strings.Contains(got, "version 5.0.0") {
		t.Errorf("falco_rules.yaml: %q", got)
	}
	if got := e.read("mnt", "plugins", "libcontainer.so"); !strings.HasPrefix(got, "container 0.7.1 "+runtime.GOARCH) {
		t.Errorf("libcontainer.so: %q", got)
	}
	if entries, err := os.ReadDir(state); err != nil || len(entries) == 0 {
		t.Errorf("the state volume holds nothing: %v %v", entries, err)
	}

	// The sidecar, checking every second instead of every week (as
	// falcoctl.artifact.follow.env could set it), stopped as Kubernetes
	// stops it.
	args := append(append(append([]string(nil), pod...), "-e", "FALCOCTL_ARTIFACT_FOLLOW_EVERY=1s", image), chartArgs(t, "follow")...)
	fw := p.follow("ferry-e2e-chart-sidecar", args...)
	fw.waitFor("a first check", func() bool { return strings.Contains(fw.stderr.String(), `"msg":"check done"`) })
	pushFalcoRules(t, e, reg.Host, "5.0.1")
	fw.waitFor("falco-rules 5.0.1 installed by the sidecar", func() bool {
		data, _ := os.ReadFile(filepath.Join(rules, "falco_rules.yaml"))
		return strings.Contains(string(data), "version 5.0.1")
	})
	fw.stop()
	jsonLines(t, fw.stderr.String())
}
