package cli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/cli"
	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/internal/testutil"
)

// watchBuffer is a stderr that says when a string first shows in it.
type watchBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func newWatchBuffer(want string) *watchBuffer {
	return &watchBuffer{want: want, seen: make(chan struct{})}
}

func (w *watchBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if w.want != "" && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
		w.want = ""
	}
	return n, err
}

func (w *watchBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

type progressFixture struct {
	reg *testutil.Registry
	dir string
	env map[string]string
	ref string
}

// newProgressFixture publishes a 2 MiB asset (random, so its layer stays
// that large) on an in-process registry.
func newProgressFixture(t *testing.T) *progressFixture {
	t.Helper()
	pf := &progressFixture{reg: testutil.NewRegistry(t), dir: t.TempDir()}
	t.Setenv("DOCKER_CONFIG", filepath.Join(pf.dir, "docker"))
	pf.env = map[string]string{
		"FERRY_CONFIG":     filepath.Join(pf.dir, "config.yaml"),
		"XDG_CACHE_HOME":   filepath.Join(pf.dir, "cache"),
		"FERRY_PLAIN_HTTP": "true",
		"TERM":             "xterm-256color",
	}
	data := make([]byte, 2<<20)
	_, _ = rand.Read(data)
	src := filepath.Join(pf.dir, "big.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	loc := pf.reg.Host + "/acme/assets/big"
	if r := pf.ferry(t, false, nil, "artifact", "push", loc, src, "--type", "asset", "--version", "1.0.0", "--state-dir", filepath.Join(pf.dir, "pushstate")); r.code != 0 {
		t.Fatalf("push: %d %s", r.code, r.err)
	}
	pf.ref = loc + ":1.0.0"
	return pf
}

// ferry runs the CLI with stderr said to be a terminal or not, env on top
// of the fixture's.
func (pf *progressFixture) ferry(t *testing.T, tty bool, env map[string]string, args ...string) run {
	t.Helper()
	return pf.ferryTo(t, tty, &bytes.Buffer{}, env, args...)
}

func (pf *progressFixture) ferryTo(t *testing.T, tty bool, errOut interface {
	Write([]byte) (int, error)
	String() string
}, env map[string]string, args ...string) run {
	t.Helper()
	var out bytes.Buffer
	f := cmdutil.NewFactory("test")
	f.IO = cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: errOut, ErrTerminal: tty}
	f.Getenv = func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return pf.env[k]
	}
	code := cli.Run(context.Background(), f, args)
	return run{out.String(), errOut.String(), code}
}

// installArgs installs the asset into a fresh directory, so it downloads.
func (pf *progressFixture) installArgs(t *testing.T, extra ...string) []string {
	d := t.TempDir()
	return append([]string{"artifact", "install", pf.ref, "--assets-dir", filepath.Join(d, "assets"), "--state-dir", filepath.Join(d, "state")}, extra...)
}

func TestProgressBarsOnATerminal(t *testing.T) {
	pf := newProgressFixture(t)
	// The layer is served in two halves, the second only once a bar showed
	// the first: the download cannot end before a bar was drawn.
	stderr := newWatchBuffer("/ 2.0 MiB")
	pf.reg.SetFault(func(w http.ResponseWriter, req *http.Request) bool {
		if req.Method != http.MethodGet || !strings.Contains(req.URL.Path, "/blobs/") {
			return false
		}
		a := pf.reg.Answer(req)
		body := a.Body
		if len(body) < 1<<20 {
			return false
		}
		a.WriteHeader(w)
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		select {
		case <-stderr.seen:
		case <-req.Context().Done():
			return true
		case <-time.After(20 * time.Second):
			t.Error("no bar was drawn while the layer downloaded")
		}
		_, _ = w.Write(body[len(body)/2:])
		return true
	})
	r := pf.ferryTo(t, true, stderr, nil, pf.installArgs(t)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	for _, want := range []string{"big 1.0.0  [", "%", "MiB/s", "ETA", "\x1b[1A\x1b[J", "Downloaded "} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%q", want, r.err)
		}
	}
	// The bar is gone: what stays on the screen is the one-line summary.
	if got := screen(r.err); len(got) != 1 || !strings.HasPrefix(got[0], "Downloaded big 1.0.0 (asset): 2.0 MiB in ") {
		t.Errorf("stderr leaves on the screen %q", got)
	}
	if strings.Contains(r.out, "\x1b") || !strings.HasPrefix(r.out, "Installed ") {
		t.Errorf("stdout: %q", r.out)
	}
}

func TestNoProgressWhenPlain(t *testing.T) {
	pf := newProgressFixture(t)
	for _, c := range []struct {
		name string
		tty  bool
		env  map[string]string
		args []string
	}{
		{"stderr not a terminal", false, nil, nil},
		{"-q", true, nil, []string{"-q"}},
		{"-o json", true, nil, []string{"-o", "json"}},
		{"NO_COLOR", true, map[string]string{"NO_COLOR": "1"}, nil},
		{"TERM=dumb", true, map[string]string{"TERM": "dumb"}, nil},
		{"no TERM", true, map[string]string{"TERM": ""}, nil},
		{"--log-level debug", true, nil, []string{"--log-level", "debug"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := pf.ferry(t, c.tty, c.env, pf.installArgs(t, c.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.err)
			}
			if strings.Contains(r.out+r.err, "\x1b") || strings.Contains(r.err, "Downloaded ") || strings.Contains(r.err, "ETA") {
				t.Errorf("progress drawn:\nstdout %q\nstderr %q", r.out, r.err)
			}
			if !strings.Contains(r.out, "installed") && !strings.Contains(r.out, "Installed ") {
				t.Errorf("no result on stdout: %q", r.out)
			}
		})
	}
	// Control: the same install with a terminal draws.
	if r := pf.ferry(t, true, nil, pf.installArgs(t)...); !strings.Contains(r.err, "Downloaded ") {
		t.Errorf("a terminal got no progress: %q", r.err)
	}
}

var cursorUpAndErase = regexp.MustCompile(`\r?\x1b\[(\d+)A\x1b\[J`)

// screen returns the lines a terminal shows once s was written to it, for
// what bars write: a carriage return at the start of a line, and n lines
// up then erase to the end.
func screen(s string) []string {
	var lines []string
	for {
		loc := cursorUpAndErase.FindStringSubmatchIndex(s)
		text := s
		if loc != nil {
			text = s[:loc[0]]
		}
		lines = append(lines, strings.SplitAfter(strings.TrimPrefix(text, "\r"), "\n")...)
		lines = slices.DeleteFunc(lines, func(l string) bool { return l == "" })
		if loc == nil {
			return lines
		}
		n, _ := strconv.Atoi(s[loc[2]:loc[3]])
		lines = lines[:max(0, len(lines)-n)]
		s = s[loc[1]:]
	}
}
