package cli_test

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

	"github.com/ferryhq/ferry/internal/cli"
	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/install"
)

// parseWith runs the real command tree on args with the command at path
// replaced by the one build returns (built with a runF that captures the
// options), so that precedence (flag > env > config > default) is applied
// by the root command as in a real run. It returns the exit code and stderr.
func parseWith(t *testing.T, env map[string]string, config string, path []string, build func(*cmdutil.Factory) *cobra.Command, args ...string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	all := map[string]string{"FERRY_CONFIG": cfg, "XDG_CACHE_HOME": filepath.Join(dir, "cache")}
	for k, v := range env {
		all[k] = v
	}
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory("test")
	f.IO = cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	f.Getenv = func(k string) string { return all[k] }
	root := cli.NewCmdRoot(f)
	old, _, err := root.Find(path)
	if err != nil || old.Name() != path[len(path)-1] {
		t.Fatalf("no command %v: %v", path, err)
	}
	parent := old.Parent()
	parent.RemoveCommand(old)
	parent.AddCommand(build(f))
	root.SetArgs(append(append([]string{}, path...), args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	_, err = root.ExecuteContextC(context.Background())
	if err == nil {
		return 0, errOut.String()
	}
	return cli.ExitCode(err), errOut.String() + err.Error()
}

func TestInstallOptions(t *testing.T) {
	type want struct {
		refs                         []string
		rulesDir, pluginsDir, state  string
		platform                     string
		concurrency                  int
		maxSize                      int64
		dryRun, locked, resolveDeps  bool
		lockFile, from, engineURL    string
		engine, allowedTypes, events []string
	}
	defaults := func(w want) want {
		if w.rulesDir == "" {
			w.rulesDir = "/etc/falco"
		}
		if w.pluginsDir == "" {
			w.pluginsDir = "/usr/share/falco/plugins"
		}
		if w.state == "" {
			w.state = "/var/lib/ferry"
		}
		if w.concurrency == 0 {
			w.concurrency = 4
		}
		if w.maxSize == 0 {
			w.maxSize = install.DefaultLimits().MaxBytes
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
		{name: "defaults", args: []string{"rules:1.x"},
			want: want{refs: []string{"rules:1.x"}, resolveDeps: true}},
		{name: "flags", args: []string{"a:1", "b:2", "--rulesfiles-dir", "/r", "--plugins-dir", "/p", "--state-dir", "/s",
			"--concurrency", "2", "--max-size", "1000", "--dry-run", "--platform", "linux/arm64", "--engine-version", "plugin_api_version=3.7.0",
			"--engine-versions-url", "http://localhost:1/versions", "--resolve-deps=false", "--lock-file", "/l.lock", "--allowed-types", "rulesfile,plugin",
			"--events-sink", "http://localhost:2/"},
			want: want{refs: []string{"a:1", "b:2"}, rulesDir: "/r", pluginsDir: "/p", state: "/s", concurrency: 2, maxSize: 1000, dryRun: true,
				platform: "linux/arm64", engine: []string{"plugin_api_version=3.7.0"}, engineURL: "http://localhost:1/versions",
				lockFile: "/l.lock", allowedTypes: []string{"rulesfile", "plugin"}, events: []string{"http://localhost:2/"}}},
		{name: "locked needs no ref", args: []string{"--locked", "--from", "b.tar"},
			want: want{locked: true, from: "b.tar", resolveDeps: true}},
		{name: "environment", env: map[string]string{"FERRY_STATE_DIR": "/env", "FERRY_ALLOWED_TYPES": "plugin,asset", "FERRY_RESOLVE_DEPS": "false"}, args: []string{"x"},
			want: want{refs: []string{"x"}, state: "/env", allowedTypes: []string{"plugin", "asset"}}},
		{name: "config defaults", config: "defaults:\n  state-dir: /cfg\n  concurrency: \"7\"\n", args: []string{"x"},
			want: want{refs: []string{"x"}, state: "/cfg", concurrency: 7, resolveDeps: true}},
		{name: "environment over config", env: map[string]string{"FERRY_STATE_DIR": "/env"}, config: "defaults:\n  state-dir: /cfg\n", args: []string{"x"},
			want: want{refs: []string{"x"}, state: "/env", resolveDeps: true}},
		{name: "flag over environment", env: map[string]string{"FERRY_STATE_DIR": "/env"}, args: []string{"x", "--state-dir", "/flag"},
			want: want{refs: []string{"x"}, state: "/flag", resolveDeps: true}},
		{name: "falcoctl keys and refs from the config",
			config: "artifact:\n  allowedTypes: [rulesfile]\n  install:\n    refs: [falco-rules:3, k8saudit-rules:0.x]\n    rulesfilesDir: /falco/rules\n    resolveDeps: false\n",
			want:   want{refs: []string{"falco-rules:3", "k8saudit-rules:0.x"}, rulesDir: "/falco/rules", allowedTypes: []string{"rulesfile"}}},
		{name: "arguments over the config's refs", config: "artifact:\n  install:\n    refs: [falco-rules:3]\n", args: []string{"mine:1"},
			want: want{refs: []string{"mine:1"}, resolveDeps: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got *cli.InstallOptions
			code, stderr := parseWith(t, c.env, c.config, []string{"artifact", "install"}, func(f *cmdutil.Factory) *cobra.Command {
				return cli.NewCmdInstall(f, func(o *cli.InstallOptions) error { got = o; return nil })
			}, c.args...)
			if code != 0 || got == nil {
				t.Fatalf("exit %d, runF called: %v: %s", code, got != nil, stderr)
			}
			w := defaults(c.want)
			if w.platform == "" {
				w.platform = got.Platform // the host's
			}
			if !strings.Contains(got.Platform, "/") {
				t.Errorf("platform %q", got.Platform)
			}
			g := want{refs: got.Refs, rulesDir: got.RulesfilesDir, pluginsDir: got.PluginsDir, state: got.StateDir, platform: got.Platform,
				concurrency: got.Concurrency, maxSize: got.MaxSize, dryRun: got.DryRun, locked: got.Locked, resolveDeps: got.ResolveDeps,
				lockFile: got.LockFile, from: got.From, engineURL: got.EngineVersionsURL, engine: got.EngineVersions,
				allowedTypes: got.AllowedTypes, events: got.Sinks}
			if s1, s2 := strings.Join(strings.Fields(fmtWant(g)), " "), strings.Join(strings.Fields(fmtWant(w)), " "); s1 != s2 {
				t.Errorf("parsed\n  %s\nwant\n  %s", s1, s2)
			}
			if got.IO.Out == nil || got.IO.ErrOut == nil || got.HTTPClient == nil || got.OCIClient == nil || got.Indexes == nil || got.ConfigFile == nil {
				t.Errorf("dependencies not taken from the Factory: %+v", got.IO)
			}
		})
	}
}

func TestInstallOptionsInvalid(t *testing.T) {
	for _, c := range []struct {
		name, config string
		args         []string
		msg          string
	}{
		{name: "no ref", msg: "give at least one REF"},
		{name: "zero concurrency", args: []string{"x", "--concurrency", "0"}, msg: "--concurrency must be at least 1"},
		{name: "zero max size", args: []string{"x", "--max-size", "0"}, msg: "--max-size must be positive"},
		{name: "empty dir", args: []string{"x", "--state-dir", " "}, msg: "--state-dir must not be empty"},
		{name: "bad type", args: []string{"x", "--allowed-types", "image"}, msg: "--allowed-types"},
		{name: "bad platform", args: []string{"x", "--platform", "linux"}, msg: "--platform must be OS/ARCH"},
		{name: "bad config value", config: "defaults:\n  concurrency: many\n", args: []string{"x"}, msg: "concurrency"},
		{name: "unknown flag", args: []string{"x", "--no-such-flag"}, msg: "no-such-flag"},
	} {
		t.Run(c.name, func(t *testing.T) {
			called := false
			code, stderr := parseWith(t, nil, c.config, []string{"artifact", "install"}, func(f *cmdutil.Factory) *cobra.Command {
				return cli.NewCmdInstall(f, func(*cli.InstallOptions) error { called = true; return nil })
			}, c.args...)
			if code != 2 || called || !strings.Contains(stderr, c.msg) {
				t.Errorf("exit %d (want 2), runF called: %v, want %q in: %s", code, called, c.msg, stderr)
			}
		})
	}
}

// fmtWant prints any of the parsed values for comparison.
func fmtWant(v any) string { return fmt.Sprintf("%+v", v) }

func TestFollowOptions(t *testing.T) {
	tmp := t.TempDir()
	type want struct {
		refs                      []string
		every, jitter, grace, tmo time.Duration
		cron, onUpdate, startup   string
		tmpDir, state, engineURL  string
		concurrency               int
		noVerify                  bool
	}
	defaults := func(w want) want {
		if w.every == 0 {
			w.every = 6 * time.Hour
		}
		if w.jitter == 0 {
			w.jitter = time.Minute
		}
		if w.grace == 0 {
			w.grace = 30 * time.Second
		}
		if w.state == "" {
			w.state = "/var/lib/ferry"
		}
		if w.concurrency == 0 {
			w.concurrency = 4
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
		{name: "defaults", args: []string{"rules:1.x"}, want: want{refs: []string{"rules:1.x"}}},
		{name: "flags", args: []string{"a:1", "b:2", "-e", "1h", "--jitter", "5s", "--grace", "2s", "--on-update", "kill -1 1",
			"--startup-behavior", "immediate", "--timeout", "3s", "--tmp-dir", tmp, "--engine-versions-url", "http://localhost:1/versions",
			"--state-dir", "/s", "--concurrency", "9", "--no-verify"},
			want: want{refs: []string{"a:1", "b:2"}, every: time.Hour, jitter: 5 * time.Second, grace: 2 * time.Second, onUpdate: "kill -1 1",
				startup: "immediate", tmo: 3 * time.Second, tmpDir: tmp, engineURL: "http://localhost:1/versions", state: "/s", concurrency: 9, noVerify: true}},
		{name: "cron", args: []string{"x", "--cron", "0 */4 * * *"}, want: want{refs: []string{"x"}, cron: "0 */4 * * *"}},
		{name: "falcoctl's alias --falco-versions", args: []string{"x", "--falco-versions", "http://localhost:2/versions"},
			want: want{refs: []string{"x"}, engineURL: "http://localhost:2/versions"}},
		{name: "environment", env: map[string]string{"FERRY_EVERY": "2h", "FERRY_ON_UPDATE": "true"}, args: []string{"x"},
			want: want{refs: []string{"x"}, every: 2 * time.Hour, onUpdate: "true"}},
		{name: "config defaults", config: "defaults:\n  every: 3h\n  jitter: 0s\n", args: []string{"x"},
			want: want{refs: []string{"x"}, every: 3 * time.Hour}},
		{name: "environment over config", env: map[string]string{"FERRY_EVERY": "2h"}, config: "defaults:\n  every: 3h\n", args: []string{"x"},
			want: want{refs: []string{"x"}, every: 2 * time.Hour}},
		{name: "flag over environment", env: map[string]string{"FERRY_EVERY": "2h"}, args: []string{"x", "--every", "4h"},
			want: want{refs: []string{"x"}, every: 4 * time.Hour}},
		{name: "falcoctl keys and refs from the config",
			config: "artifact:\n  follow:\n    refs: [falco-rules:3]\n    every: 10m\n    falcoversions: http://localhost:3/versions\n    stateDir: /falco/state\n",
			want:   want{refs: []string{"falco-rules:3"}, every: 10 * time.Minute, engineURL: "http://localhost:3/versions", state: "/falco/state"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got *cli.FollowOptions
			code, stderr := parseWith(t, c.env, c.config, []string{"artifact", "follow"}, func(f *cmdutil.Factory) *cobra.Command {
				return cli.NewCmdFollow(f, func(o *cli.FollowOptions) error { got = o; return nil })
			}, c.args...)
			if code != 0 || got == nil {
				t.Fatalf("exit %d, runF called: %v: %s", code, got != nil, stderr)
			}
			w := defaults(c.want)
			if c.name == "config defaults" {
				w.jitter = 0
			}
			g := want{refs: got.Refs, every: got.Every, jitter: got.Jitter, grace: got.Grace, tmo: got.Timeout, cron: got.Cron,
				onUpdate: got.OnUpdate, startup: got.StartupBehavior, tmpDir: got.TmpDir, state: got.StateDir,
				engineURL: got.EngineVersionsURL, concurrency: got.Concurrency, noVerify: got.NoVerify}
			if fmtWant(g) != fmtWant(w) {
				t.Errorf("parsed\n  %s\nwant\n  %s", fmtWant(g), fmtWant(w))
			}
			if got.IO.ErrOut == nil || got.HTTPClient == nil || got.Logger == nil || got.Global == nil {
				t.Error("dependencies not taken from the Factory")
			}
		})
	}
}

func TestFollowOptionsInvalid(t *testing.T) {
	for _, c := range []struct {
		name, config string
		args         []string
		msg          string
	}{
		{name: "no ref", msg: "requires at least 1 arg"},
		{name: "zero every", args: []string{"x", "--every", "0s"}, msg: "--every must be positive"},
		{name: "negative jitter", args: []string{"x", "--jitter", "-1s"}, msg: "--jitter must not be negative"},
		{name: "bad cron", args: []string{"x", "--cron", "every day"}, msg: "cron"},
		{name: "bad startup behavior", args: []string{"x", "--startup-behavior", "later"}, msg: "--startup-behavior must be"},
		{name: "missing tmp dir", args: []string{"x", "--tmp-dir", filepath.Join(t.TempDir(), "none")}, msg: "--tmp-dir"},
		{name: "zero concurrency", args: []string{"x", "--concurrency", "0"}, msg: "--concurrency must be at least 1"},
		{name: "bad config duration", config: "defaults:\n  every: often\n", args: []string{"x"}, msg: "every"},
	} {
		t.Run(c.name, func(t *testing.T) {
			called := false
			code, stderr := parseWith(t, nil, c.config, []string{"artifact", "follow"}, func(f *cmdutil.Factory) *cobra.Command {
				return cli.NewCmdFollow(f, func(*cli.FollowOptions) error { called = true; return nil })
			}, c.args...)
			if code != 2 || called || !strings.Contains(stderr, c.msg) {
				t.Errorf("exit %d (want 2), runF called: %v, want %q in: %s", code, called, c.msg, stderr)
			}
		})
	}
}

func TestPushOptions(t *testing.T) {
	type want struct {
		ref                             string
		files, platforms, deps, reqs    []string
		typ, version, name, source      string
		state, eventsFile, eventsSource string
		floating                        bool
	}
	for _, c := range []struct {
		name   string
		env    map[string]string
		config string
		args   []string
		want   want
	}{
		{name: "defaults", args: []string{"localhost:5000/rules/r", "r.yaml"},
			want: want{ref: "localhost:5000/rules/r", files: []string{"r.yaml"}, state: "/var/lib/ferry"}},
		{name: "flags", args: []string{"localhost:5000/plugins/p:1.2.3", "a.so", "b.so", "--type", "plugin", "--version", "1.2.3", "--name", "json",
			"--platform", "linux/amd64", "--platform", "linux/arm64", "--add-floating-tags", "--depends-on", "a:1.0.0|b:2.0.0", "--depends-on", "c:3.0.0",
			"--requires", "plugin_api_version:3.0.0", "--source-repo", "https://github.com/x/y", "--state-dir", "/s", "--events-file", "/e.jsonl"},
			want: want{ref: "localhost:5000/plugins/p:1.2.3", files: []string{"a.so", "b.so"}, typ: "plugin", version: "1.2.3", name: "json",
				platforms: []string{"linux/amd64", "linux/arm64"}, floating: true, deps: []string{"a:1.0.0|b:2.0.0", "c:3.0.0"},
				reqs: []string{"plugin_api_version:3.0.0"}, source: "https://github.com/x/y", state: "/s", eventsFile: "/e.jsonl"}},
		{name: "an index entry", args: []string{"falco-rules:3.0.0", "r.yaml"},
			want: want{ref: "falco-rules:3.0.0", files: []string{"r.yaml"}, state: "/var/lib/ferry"}},
		{name: "environment", env: map[string]string{"FERRY_STATE_DIR": "/env", "FERRY_EVENTS_SOURCE": "/ci"}, args: []string{"h:5000/r", "f"},
			want: want{ref: "h:5000/r", files: []string{"f"}, state: "/env", eventsSource: "/ci"}},
		{name: "config", config: "defaults:\n  state-dir: /cfg\nevents:\n  file: /cfg.jsonl\n", args: []string{"h:5000/r", "f"},
			want: want{ref: "h:5000/r", files: []string{"f"}, state: "/cfg", eventsFile: "/cfg.jsonl"}},
		{name: "environment over config", env: map[string]string{"FERRY_STATE_DIR": "/env"}, config: "defaults:\n  state-dir: /cfg\n", args: []string{"h:5000/r", "f"},
			want: want{ref: "h:5000/r", files: []string{"f"}, state: "/env"}},
		{name: "flag over config", config: "events:\n  file: /cfg.jsonl\n", args: []string{"h:5000/r", "f", "--events-file", "/flag.jsonl"},
			want: want{ref: "h:5000/r", files: []string{"f"}, state: "/var/lib/ferry", eventsFile: "/flag.jsonl"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got *cli.PushOptions
			code, stderr := parseWith(t, c.env, c.config, []string{"artifact", "push"}, func(f *cmdutil.Factory) *cobra.Command {
				return cli.NewCmdPush(f, func(o *cli.PushOptions) error { got = o; return nil })
			}, c.args...)
			if code != 0 || got == nil {
				t.Fatalf("exit %d, runF called: %v: %s", code, got != nil, stderr)
			}
			g := want{ref: got.Ref, files: got.Files, platforms: got.Platforms, deps: got.DependsOn, reqs: got.Requires, typ: got.Type,
				version: got.Version, name: got.Name, source: got.SourceRepo, state: got.StateDir, eventsFile: got.File,
				eventsSource: got.Source, floating: got.FloatingTags}
			if fmtWant(g) != fmtWant(c.want) {
				t.Errorf("parsed\n  %s\nwant\n  %s", fmtWant(g), fmtWant(c.want))
			}
			if got.IO.Out == nil || got.OCIClient == nil || got.Indexes == nil || got.Global == nil {
				t.Error("dependencies not taken from the Factory")
			}
		})
	}
}

func TestPushOptionsInvalid(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		msg  string
	}{
		{name: "no file", args: []string{"h:5000/r"}, msg: "requires at least 2 arg"},
		{name: "a digest", args: []string{"h:5000/r@sha256:" + strings.Repeat("a", 64), "f"}, msg: "not a digest"},
		{name: "tag and version differ", args: []string{"h:5000/r:1.0.0", "f", "--version", "2.0.0"}, msg: `differs from --version "2.0.0"`},
		{name: "bad reference", args: []string{"h:5000/R::x", "f"}, msg: "R::x"},
		{name: "bad flag value", args: []string{"h:5000/r", "f", "--add-floating-tags=maybe"}, msg: "add-floating-tags"},
	} {
		t.Run(c.name, func(t *testing.T) {
			called := false
			code, stderr := parseWith(t, nil, "", []string{"artifact", "push"}, func(f *cmdutil.Factory) *cobra.Command {
				return cli.NewCmdPush(f, func(*cli.PushOptions) error { called = true; return nil })
			}, c.args...)
			if code != 2 || called || !strings.Contains(stderr, c.msg) {
				t.Errorf("exit %d (want 2), runF called: %v, want %q in: %s", code, called, c.msg, stderr)
			}
		})
	}
}
