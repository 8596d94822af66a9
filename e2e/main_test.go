package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	ferryBin    string
	registryBin string
)

// Every test runs in parallel with the others (make test: four at a time),
// each with its own home, config, state and registries (newEnv), except the
// podman and tmux ones, which share an engine or a terminal server.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		return 0
	}
	// A test re-run in a private mount namespace (testutil.PrivateMounts)
	// reuses the binaries its parent built.
	if dir := os.Getenv("FERRY_E2E_BINDIR"); dir != "" {
		ferryBin, registryBin = filepath.Join(dir, "ferry"), filepath.Join(dir, "registry")
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ferry-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Setenv("FERRY_E2E_BINDIR", dir)
	ferryBin = filepath.Join(dir, "ferry")
	registryBin = filepath.Join(dir, "registry")
	// Both in one go build, with make build's flags (static, -trimpath):
	// the tests run what ships, the two binaries' shared packages compile
	// once, and a build cache make build or make demo filled is reused.
	b := []string{"build", "-trimpath", "-o", dir + string(filepath.Separator),
		"github.com/ferryhq/ferry/cmd/ferry", "github.com/ferryhq/ferry/scripts/registry"}
	cmd := exec.Command("go", b...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go %s: %v\n%s", strings.Join(b, " "), err, out)
		return 1
	}
	return m.Run()
}

// registryProcess is a distribution registry running as its own process.
type registryProcess struct {
	Host string
}

var listening = regexp.MustCompile(`msg="listening on ([0-9.:]+)"`)

// startRegistry starts a registry process on a port the kernel picks.
func startRegistry(t *testing.T, extraConfig string) *registryProcess {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: 127.0.0.1:0
  secret: e2e
%s`, filepath.Join(dir, "data"), extraConfig)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	cmd := exec.Command(registryBin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(log.String()); m != nil {
			return &registryProcess{Host: m[1]}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("registry did not start:\n%s", log.String())
	return nil
}

// env is an isolated user environment: config, cache, credentials and the
// install directories all live under one temporary directory.
type env struct {
	t    *testing.T
	Home string
	vars []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	home := t.TempDir()
	return &env{t: t, Home: home, vars: []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"DOCKER_CONFIG=" + filepath.Join(home, "docker"),
		"FERRY_PLAIN_HTTP=true",
		"FERRY_RULESFILES_DIR=" + filepath.Join(home, "falco"),
		"FERRY_PLUGINS_DIR=" + filepath.Join(home, "plugins"),
		"FERRY_ASSETS_DIR=" + filepath.Join(home, "assets"),
		"FERRY_STATE_DIR=" + filepath.Join(home, "state"),
		// driver config writes Falco's drop-in here, never in /etc/falco.
		"FERRY_FALCO_CONFIG_DIR=" + filepath.Join(home, "falco-config"),
	}}
}

func (e *env) path(parts ...string) string {
	return filepath.Join(append([]string{e.Home}, parts...)...)
}

type result struct {
	Stdout, Stderr string
	Code           int
}

// ferry runs the binary and returns what it printed and its exit code.
func (e *env) ferry(args ...string) result {
	e.t.Helper()
	return e.ferryCtx(context.Background(), args...)
}

func (e *env) ferryCtx(ctx context.Context, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ferryBin, args...)
	cmd.Env = e.vars
	return runCommand(e.t, cmd)
}

// runCommand runs cmd and returns what it printed and its exit code; a
// command that could not be run at all fails the test.
func runCommand(t testing.TB, cmd *exec.Cmd) result {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", cmd.Args, err)
	}
	return result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// command returns an unstarted ferry command in this environment.
func (e *env) command(args ...string) *exec.Cmd {
	cmd := exec.Command(ferryBin, args...)
	cmd.Env = e.vars
	return cmd
}

// ok runs ferry and fails the test unless it exits 0.
func (e *env) ok(args ...string) result {
	e.t.Helper()
	r := e.ferry(args...)
	if r.Code != 0 {
		e.t.Fatalf("ferry %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

func (e *env) write(name, content string) string {
	e.t.Helper()
	p := e.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) read(parts ...string) string {
	e.t.Helper()
	data, err := os.ReadFile(e.path(parts...))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(data)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
