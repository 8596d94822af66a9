package e2e

import (
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var updateScreen = flag.Bool("update-screen", false, "rewrite testdata/progress-screen.txt from the tmux run")

// gatedProxy forwards to a registry and holds every large blob half-way
// until Open is called, so a test can look at the screen mid-download.
type gatedProxy struct {
	Host string
	gate chan struct{}
	once sync.Once
}

func newGatedProxy(t *testing.T, registryHost string) *gatedProxy {
	t.Helper()
	gp := &gatedProxy{gate: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: registryHost})
	rp.FlushInterval = -1
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && strings.Contains(resp.Request.URL.Path, "/blobs/") && resp.ContentLength > 8<<20 {
			resp.Body = &gatedBody{ReadCloser: resp.Body, left: resp.ContentLength / 2, gate: gp.gate}
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(func() { gp.Open(); srv.Close() })
	gp.Host = strings.TrimPrefix(srv.URL, "http://")
	return gp
}

// Open lets held blobs finish.
func (gp *gatedProxy) Open() { gp.once.Do(func() { close(gp.gate) }) }

type gatedBody struct {
	io.ReadCloser
	left int64 // bytes before the gate
	gate <-chan struct{}
}

func (b *gatedBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		select {
		case <-b.gate:
		case <-time.After(time.Minute):
		}
		b.left = -1
	}
	if b.left > 0 && int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	return n, err
}

// tmuxPane runs a script in a detached tmux session of its own server.
type tmuxPane struct {
	t    *testing.T
	sock string
}

func startTmux(t *testing.T, script string) *tmuxPane {
	t.Helper()
	tm := &tmuxPane{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	if out, err := tm.cmd("-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "30", "-s", "ferry", "sh "+script).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = tm.cmd("kill-server").Run() })
	return tm
}

func (tm *tmuxPane) cmd(args ...string) *exec.Cmd {
	return exec.Command("tmux", append([]string{"-S", tm.sock}, args...)...)
}

// capture returns the pane's visible lines, trailing blank lines cut.
func (tm *tmuxPane) capture() string {
	tm.t.Helper()
	out, err := tm.cmd("capture-pane", "-p", "-t", "ferry").Output()
	if err != nil {
		tm.t.Fatalf("tmux capture-pane: %v", err)
	}
	return strings.TrimRight(string(out), "\n ") + "\n"
}

// waitFor captures the pane until cond holds for it.
func (tm *tmuxPane) waitFor(what string, cond func(screen string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		s := tm.capture()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the pane never showed %s; it shows:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestProgressInATerminal installs a 64 MiB artifact in a real terminal
// (tmux) and reads the screen while the download is held half-way and
// after it ended.
func TestProgressInATerminal(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	reg := startRegistry(t, "")
	proxy := newGatedProxy(t, reg.Host)
	e := newEnv(t)
	big := make([]byte, 64<<20)
	_, _ = rand.Read(big)
	src := e.path("src", "big.bin")
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, big, 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("artifact", "push", reg.Host+"/acme/assets/big", src, "--type", "asset", "--version", "1.0.0")
	addIndex(t, e, "acme", fmt.Sprintf("- name: big\n  type: asset\n  registry: %s\n  repository: acme/assets/big\n", proxy.Host))

	// The pane's TERM is tmux's; everything else is the test's environment.
	script := "unset NO_COLOR FERRY_QUIET FERRY_OUTPUT\n"
	for _, v := range e.vars {
		k, val, _ := strings.Cut(v, "=")
		script += fmt.Sprintf("export %s='%s'\n", k, val)
	}
	script += fmt.Sprintf("cd %s\n%s artifact install big:1.x --max-size %d\necho \"ferry exited $?\"\nexec sleep 600\n", e.Home, ferryBin, 1<<30)
	tm := startTmux(t, e.write("run.sh", script))

	// The first frames may show no bytes yet; wait for one in MiB.
	during := tm.waitFor("a download bar with MiB received", func(s string) bool {
		bar := lineWith(s, "acme/big 1.0.0  [")
		return strings.Contains(bar, "MiB / 64.0 MiB") && strings.Contains(bar, "MiB/s")
	})
	proxy.Open()
	after := tm.waitFor("ferry's exit", func(s string) bool { return strings.Contains(s, "ferry exited") })

	bar := lineWith(during, "acme/big 1.0.0  [")
	for _, want := range []string{" / 64.0 MiB", "%", "MiB/s", "ETA"} {
		if !strings.Contains(bar, want) {
			t.Errorf("the bar lacks %q: %q", want, bar)
		}
	}
	if strings.Contains(during, "Installed") {
		t.Errorf("results were printed before the download ended:\n%s", during)
	}
	for _, want := range []string{"Downloaded acme/big 1.0.0 (asset): 64.0 MiB in ", "Installed acme/big 1.0.0 (asset)", e.path("assets", "big.bin"), "ferry exited 0"} {
		if !strings.Contains(after, want) {
			t.Errorf("the screen after lacks %q:\n%s", want, after)
		}
	}
	if strings.Contains(after, "[=") || strings.Contains(after, "ETA") || strings.Count(after, "acme/big 1.0.0") != 2 {
		t.Errorf("a bar is left on the screen after:\n%s", after)
	}
	// The summary comes first, then the results: stderr is done with the
	// terminal before stdout writes to it.
	if strings.Index(after, "Downloaded") > strings.Index(after, "Installed") {
		t.Errorf("results and the summary interleave:\n%s", after)
	}
	if *updateScreen {
		doc := "# ferry artifact install big:1.x in a 120x30 tmux pane, captured by TestProgressInATerminal\n" +
			"# (go test ./e2e/ -run TestProgressInATerminal -update-screen). Stdout and stderr are the same terminal.\n" +
			"\n## during the download\n\n" + during + "\n## after\n\n" + after
		if err := os.WriteFile(filepath.Join("testdata", "progress-screen.txt"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func lineWith(screen, part string) string {
	for l := range strings.SplitSeq(screen, "\n") {
		if strings.Contains(l, part) {
			return l
		}
	}
	return ""
}
