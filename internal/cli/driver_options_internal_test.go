package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/driver"
)

// parseDriverInstall runs the real command tree on "driver install ARGS"
// with driver install built with runF, under a driver command that binds
// the driver flag group as newCmdDriver does.
func parseDriverInstall(t *testing.T, env map[string]string, config string, runF func(*DriverInstallOptions) error, args ...string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	all := map[string]string{"FERRY_CONFIG": cfg, "HOME": dir}
	for k, v := range env {
		all[k] = v
	}
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory("test")
	f.IO = cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	f.Getenv = func(k string) string { return all[k] }
	root := NewCmdRoot(f)
	old, _, err := root.Find([]string{"driver"})
	if err != nil || old.Name() != "driver" {
		t.Fatalf("no driver command: %v", err)
	}
	root.RemoveCommand(old)
	parent := &cobra.Command{Use: "driver"}
	dopts := &driverOptions{}
	dopts.AddFlags(parent.PersistentFlags())
	parent.AddCommand(NewCmdDriverInstall(f, dopts, runF))
	root.AddCommand(parent)
	root.SetArgs(append([]string{"driver", "install"}, args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	if _, err := root.ExecuteContextC(context.Background()); err != nil {
		return ExitCode(err), errOut.String() + err.Error()
	}
	return 0, errOut.String()
}

func TestDriverInstallOptions(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	type want struct {
		types, repos, links                []string
		version, name, hostRoot, release   string
		state, cache, sha, headers, kernel string
		load, dryRun, download, compile    bool
		noDKMS, headersSet                 bool
		maxSize                            int64
		httpTimeout, buildTimeout          time.Duration
	}
	defaults := func(w want) want {
		if w.types == nil {
			w.types = []string{"modern_ebpf", "kmod"}
		}
		if w.repos == nil {
			w.repos = []string{driver.DefaultRepo}
		}
		if w.name == "" {
			w.name = "falco"
		}
		if w.hostRoot == "" {
			w.hostRoot = "/"
		}
		if w.state == "" {
			w.state = "/var/lib/ferry"
		}
		if w.maxSize == 0 {
			w.maxSize = driver.DefaultMaxBytes
		}
		if w.httpTimeout == 0 {
			w.httpTimeout = time.Minute
		}
		if w.buildTimeout == 0 {
			w.buildTimeout = driver.DefaultBuildTimeout
		}
		return w
	}
	for _, c := range []struct {
		name   string
		env    map[string]string
		config string
		args   []string
		want   want
	}{
		{name: "defaults", want: want{download: true, compile: true}},
		{name: "flags", args: []string{"--type", "kmod", "--version", "8.0.0+driver", "--repo", "https://a.example/d", "--repo", "http://b.example/d",
			"--name", "mine", "--host-root", "/host", "--kernelrelease", "6.1.0-10-amd64", "--cache-dir", "/c", "--state-dir", "/s", "--sha256", sum,
			"--load", "--dry-run", "--download=false", "--compile=false", "--download-headers", "--http-timeout", "5s", "--build-timeout", "1m",
			"--http-headers", "x-a: b", "--kernel-dir", "/k", "--no-dkms", "--probe-link", "/p1,/p2", "--max-size", "99"},
			want: want{types: []string{"kmod"}, version: "8.0.0+driver", repos: []string{"https://a.example/d", "http://b.example/d"}, name: "mine",
				hostRoot: "/host", release: "6.1.0-10-amd64", cache: "/c", state: "/s", sha: sum, load: true, dryRun: true, headersSet: true,
				httpTimeout: 5 * time.Second, buildTimeout: time.Minute, headers: "x-a: b", kernel: "/k", noDKMS: true,
				links: []string{"/p1", "/p2"}, maxSize: 99}},
		{name: "HOST_ROOT", env: map[string]string{"HOST_ROOT": "/hr"}, want: want{hostRoot: "/hr", download: true, compile: true}},
		{name: "FERRY_HOST_ROOT over HOST_ROOT", env: map[string]string{"HOST_ROOT": "/hr", "FERRY_HOST_ROOT": "/fhr"},
			want: want{hostRoot: "/fhr", download: true, compile: true}},
		{name: "flag over HOST_ROOT", env: map[string]string{"HOST_ROOT": "/hr"}, args: []string{"--host-root", "/flag"},
			want: want{hostRoot: "/flag", download: true, compile: true}},
		{name: "the config's driver section", config: "driver:\n  type: [kmod]\n  name: other\n  repos: [https://r.example/d]\n  version: 7.0.0+driver\n  hostRoot: /cfg\n",
			want: want{types: []string{"kmod"}, name: "other", repos: []string{"https://r.example/d"}, version: "7.0.0+driver", hostRoot: "/cfg", download: true, compile: true}},
		{name: "environment over config", env: map[string]string{"FERRY_STATE_DIR": "/env"}, config: "defaults:\n  state-dir: /cfg\n",
			want: want{state: "/env", download: true, compile: true}},
		{name: "arguments ignored", args: []string{"SMP", "PREEMPT"}, want: want{download: true, compile: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got *DriverInstallOptions
			code, stderr := parseDriverInstall(t, c.env, c.config, func(o *DriverInstallOptions) error { got = o; return nil }, c.args...)
			if code != 0 || got == nil {
				t.Fatalf("exit %d, runF called: %v: %s", code, got != nil, stderr)
			}
			g := want{types: got.Types, repos: got.Repos, links: got.ProbeLinks, version: got.Version, name: got.Name, hostRoot: got.HostRoot,
				release: got.KernelRelease, state: got.StateDir, cache: got.CacheDir, sha: got.SHA256, headers: got.HTTPHeaders, kernel: got.KernelDir,
				load: got.Load, dryRun: got.DryRun, download: got.Download, compile: got.Compile, noDKMS: got.NoDKMS, headersSet: got.DownloadHeadersSet,
				maxSize: got.MaxSize, httpTimeout: got.HTTPTimeout, buildTimeout: got.BuildTimeout}
			if w := defaults(c.want); fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
				t.Errorf("parsed\n  %+v\nwant\n  %+v", g, w)
			}
			if c.name == "arguments ignored" && !strings.Contains(stderr, "ignoring arguments") {
				t.Errorf("no warning about the arguments: %s", stderr)
			}
			if got.HTTPClient == nil || got.Logger == nil || got.Getenv == nil || got.IO.Out == nil {
				t.Error("dependencies not taken from the Factory")
			}
		})
	}
}

func TestDriverInstallOptionsInvalid(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		msg  string
	}{
		{name: "relative host root", args: []string{"--host-root", "host"}, msg: "--host-root must be an absolute path"},
		{name: "relative HOST_ROOT", env: map[string]string{"HOST_ROOT": "host"}, msg: "--host-root must be an absolute path"},
		{name: "bad type", args: []string{"--type", "dkms"}, msg: "--type"},
		{name: "bad repo", args: []string{"--repo", "ftp://x/d"}, msg: "is not an http(s) URL"},
		{name: "name with a space", args: []string{"--name", "a b"}, msg: "contains a space"},
		{name: "bad sha256", args: []string{"--sha256", "xyz"}, msg: "--sha256"},
		{name: "zero max size", args: []string{"--max-size", "0"}, msg: "--max-size must be positive"},
		{name: "zero http timeout", args: []string{"--http-timeout", "0s"}, msg: "--http-timeout and --build-timeout must be positive"},
		{name: "bad header", args: []string{"--http-headers", "no colon"}, msg: "--http-headers"},
		{name: "empty state dir", args: []string{"--state-dir", " "}, msg: "--state-dir must not be empty"},
		{name: "relative probe link", args: []string{"--probe-link", "p"}, msg: "--probe-link must be an absolute path"},
		{name: "relative kernel dir", args: []string{"--kernel-dir", "k"}, msg: "--kernel-dir must be an absolute path"},
	} {
		t.Run(c.name, func(t *testing.T) {
			called := false
			code, stderr := parseDriverInstall(t, c.env, "", func(*DriverInstallOptions) error { called = true; return nil }, c.args...)
			if code != 2 || called || !strings.Contains(stderr, c.msg) {
				t.Errorf("exit %d (want 2), runF called: %v, want %q in: %s", code, called, c.msg, stderr)
			}
		})
	}
}
