package driver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/errdef"
)

// repo is a driver repository: path → body (or status code via codes).
type repo struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	codes map[string]int
	reqs  []string
}

func newRepo(t *testing.T) *repo {
	r := &repo{files: map[string][]byte{}, codes: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.URL.EscapedPath())
		body, ok := r.files[req.URL.EscapedPath()]
		code := r.codes[req.URL.EscapedPath()]
		r.mu.Unlock()
		switch {
		case code != 0:
			w.WriteHeader(code)
		case ok:
			_, _ = w.Write(body)
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *repo) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reqs...)
}

type fakeSystem struct {
	loaded map[string]bool
	chcon  bool
	fail   string
	ran    [][]string
}

func (f *fakeSystem) ModuleLoaded(name string) (bool, error) { return f.loaded[name], nil }
func (f *fakeSystem) HasCommand(name string) bool            { return name == "chcon" && f.chcon }
func (f *fakeSystem) Run(_ context.Context, args []string) error {
	f.ran = append(f.ran, args)
	if args[0] == f.fail {
		return fmt.Errorf("%s: exit status 1: Operation not permitted", strings.Join(args, " "))
	}
	if args[0] == "insmod" {
		f.loaded["falco"] = true
	}
	if args[0] == "rmmod" {
		delete(f.loaded, args[1])
	}
	return nil
}

var debianTarget = Target{Distro: "debian", ID: "debian", Arch: "x86_64", KernelRelease: "6.1.0-10-cloud-amd64",
	KernelVersion: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.38-2 (2023-07-27)", FixedKernelRelease: "6.1.38-2-cloud-amd64", FixedKernelVersion: "1"}

const (
	koPath = "/8.0.0%2Bdriver/x86_64/falco_debian_6.1.38-2-cloud-amd64_1.ko"
	koFile = "falco_debian_6.1.38-2-cloud-amd64_1.ko"
)

func hexSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

type fixture struct {
	in   *Installer
	sys  *fakeSystem
	req  Request
	dir  string
	body []byte
}

func newFixture(t *testing.T, repos ...*repo) *fixture {
	hc, err := ferryhttp.New(ferryhttp.Options{NoRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sys := &fakeSystem{loaded: map[string]bool{}}
	req := Request{
		Name: "falco", Version: "8.0.0+driver", Type: Kmod, Target: debianTarget,
		CacheDir: filepath.Join(dir, "cache"), InstallDir: filepath.Join(dir, "host", "root", ".falco"), StateDir: filepath.Join(dir, "state"),
	}
	for _, r := range repos {
		req.Repos = append(req.Repos, r.URL+"/")
	}
	return &fixture{in: &Installer{HTTP: hc, System: sys}, sys: sys, req: req, dir: dir, body: []byte("\x7fELF a kernel module")}
}

func (f *fixture) installed(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.req.InstallDir, "8.0.0+driver", "x86_64", koFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestInstallDownloadCacheAndReinstall(t *testing.T) {
	r := newRepo(t)
	f := newFixture(t, r)
	r.files[koPath] = f.body
	var events []string
	f.in.Progress = func(e Event) { events = append(events, e.Step) }

	res, err := f.in.Install(context.Background(), f.req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusInstalled || res.Cached || res.URL != r.URL+koPath || res.Verified != "" || res.SHA256 != hexSum(f.body) {
		t.Errorf("result %+v", res)
	}
	if got := r.requests(); !cmp.Equal(got, []string{koPath, koPath + ".sha256"}) {
		t.Errorf("requests %v", got)
	}
	if f.installed(t) != string(f.body) {
		t.Error("installed file differs")
	}
	if _, err := os.Stat(filepath.Join(f.req.CacheDir, "8.0.0+driver", "x86_64", koFile)); err != nil {
		t.Errorf("not cached: %v", err)
	}
	st, err := ReadState(f.req.StateDir)
	if err != nil || len(st.Files) != 1 || st.Files[0].Path != res.Path || st.Files[0].Base != f.req.InstallDir {
		t.Errorf("state %+v, %v", st, err)
	}
	if !cmp.Equal(events, []string{"try", "downloaded", "installed"}) {
		t.Errorf("events %v", events)
	}

	// Again: from the cache, nothing to change, no request.
	res, err = f.in.Install(context.Background(), f.req)
	if err != nil || res.Status != StatusUpToDate || !res.Cached {
		t.Fatalf("second install: %+v, %v", res, err)
	}
	if n := len(r.requests()); n != 2 {
		t.Errorf("second install made %d requests", n-2)
	}

	// The installed file was removed: restored from the cache.
	if err := os.Remove(res.Path); err != nil {
		t.Fatal(err)
	}
	res, err = f.in.Install(context.Background(), f.req)
	if err != nil || res.Status != StatusInstalled || !res.Cached || f.installed(t) != string(f.body) {
		t.Fatalf("reinstall: %+v, %v", res, err)
	}
}

func TestInstallRepositoriesInOrder(t *testing.T) {
	a, b, c := newRepo(t), newRepo(t), newRepo(t)
	f := newFixture(t, a, b, c)
	b.codes[koPath] = 500
	c.files[koPath] = f.body
	res, err := f.in.Install(context.Background(), f.req)
	if err != nil {
		t.Fatal(err)
	}
	if res.URL != c.URL+koPath || len(res.Tried) != 2 || !res.Tried[0].NotFound || res.Tried[1].NotFound || res.Tried[1].Error != "500 Internal Server Error" {
		t.Errorf("result %+v", res)
	}
}

func TestInstallNotFound(t *testing.T) {
	a, b := newRepo(t), newRepo(t)
	f := newFixture(t, a, b)
	res, err := f.in.Install(context.Background(), f.req)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	var de *DownloadError
	if !errors.As(err, &de) || len(de.Attempts) != 2 {
		t.Fatalf("err = %#v", err)
	}
	for _, u := range []string{a.URL + koPath, b.URL + koPath, "404 Not Found", "no prebuilt falco kmod driver 8.0.0+driver for debian 6.1.38-2-cloud-amd64 (1)"} {
		if !strings.Contains(err.Error(), u) {
			t.Errorf("error lacks %q: %v", u, err)
		}
	}
	if res == nil || res.Status != "" {
		t.Errorf("res %+v", res)
	}
	if _, err := os.Stat(f.req.InstallDir); !errors.Is(err, os.ErrNotExist) {
		t.Error("install dir created")
	}

	// A server error anywhere means "could not download", not "not found".
	b.codes[koPath] = 503
	_, err = f.in.Install(context.Background(), f.req)
	if err == nil || errors.Is(err, ErrNotFound) || !errors.Is(err, ferryhttp.ErrServer) || !strings.Contains(err.Error(), "could not download") {
		t.Errorf("err = %v", err)
	}
}

// The kind of a failed download is that of the repositories' answers
// together: all not found is a not-found; not found or refused (401, 403),
// with a refusal, is unauthorized; a server error among them is no kind.
func TestInstallDownloadErrorKinds(t *testing.T) {
	kinds := []error{errdef.ErrInvalid, errdef.ErrNotFound, errdef.ErrUnauthorized, errdef.ErrVerification}
	for _, c := range []struct {
		name  string
		codes []int // one repository each; 0 answers 404
		kind  error // nil: none
	}{
		{"404 404", []int{0, 0}, errdef.ErrNotFound},
		{"401", []int{401}, errdef.ErrUnauthorized},
		{"403", []int{403}, errdef.ErrUnauthorized},
		{"404 403", []int{0, 403}, errdef.ErrUnauthorized},
		{"401 404", []int{401, 0}, errdef.ErrUnauthorized},
		{"404 500", []int{0, 500}, nil},
		{"500 404", []int{500, 0}, nil},
		{"403 500", []int{403, 500}, nil},
		{"400", []int{400}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var repos []*repo
			for _, code := range c.codes {
				r := newRepo(t)
				if code != 0 {
					r.codes[koPath] = code
				}
				repos = append(repos, r)
			}
			f := newFixture(t, repos...)
			_, err := f.in.Install(context.Background(), f.req)
			var de *DownloadError
			if !errors.As(err, &de) || len(de.Attempts) != len(repos) {
				t.Fatalf("err = %#v", err)
			}
			for _, k := range kinds {
				if errors.Is(err, k) != (k == c.kind) {
					t.Errorf("%v: matches %v: %v", err, k, k != c.kind)
				}
			}
			if errors.Is(err, ErrNotFound) != (c.kind == errdef.ErrNotFound) {
				t.Errorf("%v: matches ErrNotFound: %v", err, c.kind != errdef.ErrNotFound)
			}
			for i, a := range de.Attempts {
				want := c.codes[i]
				if want == 0 {
					want = 404
				}
				if a.URL != repos[i].URL+koPath || a.Error != fmt.Sprintf("%d %s", want, http.StatusText(want)) ||
					a.NotFound != (want == 404) || a.Unauthorized != (want == 401 || want == 403) {
					t.Errorf("attempt %d: %+v", i, a)
				}
				if !strings.Contains(err.Error(), a.URL+" ("+a.Error+")") {
					t.Errorf("error lacks attempt %d: %v", i, err)
				}
			}
			// The attempts' own errors stay reachable.
			var se *ferryhttp.StatusError
			if !errors.As(err, &se) {
				t.Errorf("no *StatusError in %v", err)
			}
			if slices.Contains(c.codes, 500) && !errors.Is(err, ferryhttp.ErrServer) {
				t.Errorf("%v does not match ErrServer", err)
			}
		})
	}
}

func TestInstallVerification(t *testing.T) {
	t.Run("given digest", func(t *testing.T) {
		r := newRepo(t)
		f := newFixture(t, r)
		r.files[koPath] = f.body
		f.req.SHA256 = "sha256:" + hexSum(f.body)
		res, err := f.in.Install(context.Background(), f.req)
		if err != nil || res.Verified != VerifiedGiven {
			t.Fatalf("%+v, %v", res, err)
		}
		if got := r.requests(); len(got) != 1 {
			t.Errorf("a given digest needs no sidecar: %v", got)
		}
	})
	t.Run("given digest mismatch", func(t *testing.T) {
		r, other := newRepo(t), newRepo(t)
		f := newFixture(t, r, other)
		r.files[koPath] = []byte("corrupted")
		other.files[koPath] = f.body
		f.req.SHA256 = hexSum(f.body)
		_, err := f.in.Install(context.Background(), f.req)
		if !errors.Is(err, ErrDigestMismatch) {
			t.Fatalf("err = %v", err)
		}
		if len(other.requests()) != 0 {
			t.Error("a corrupt file must not be skipped for the next repository")
		}
		if _, err := os.Stat(filepath.Join(f.req.CacheDir, "8.0.0+driver", "x86_64", koFile)); !errors.Is(err, os.ErrNotExist) {
			t.Error("corrupt file cached")
		}
	})
	t.Run("sidecar", func(t *testing.T) {
		r := newRepo(t)
		f := newFixture(t, r)
		r.files[koPath] = f.body
		r.files[koPath+".sha256"] = []byte(hexSum(f.body) + "  " + koFile + "\n")
		res, err := f.in.Install(context.Background(), f.req)
		if err != nil || res.Verified != VerifiedSidecar {
			t.Fatalf("%+v, %v", res, err)
		}
	})
	t.Run("sidecar mismatch", func(t *testing.T) {
		r := newRepo(t)
		f := newFixture(t, r)
		r.files[koPath] = []byte("corrupted")
		r.files[koPath+".sha256"] = []byte(hexSum(f.body) + "\n")
		_, err := f.in.Install(context.Background(), f.req)
		if !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), ".sha256 says") {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(filepath.Join(f.req.CacheDir, "8.0.0+driver", "x86_64", koFile)); !errors.Is(err, os.ErrNotExist) {
			t.Error("corrupt file cached")
		}
	})
	t.Run("cached file with another digest is downloaded again", func(t *testing.T) {
		r := newRepo(t)
		f := newFixture(t, r)
		r.files[koPath] = f.body
		cached := LocalPath(f.req.CacheDir, f.req.Version, "x86_64", koFile)
		if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cached, []byte("stale"), 0o644); err != nil {
			t.Fatal(err)
		}
		f.req.SHA256 = hexSum(f.body)
		res, err := f.in.Install(context.Background(), f.req)
		if err != nil || res.Cached || f.installed(t) != string(f.body) {
			t.Fatalf("%+v, %v", res, err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		r := newRepo(t)
		f := newFixture(t, r)
		r.files[koPath] = f.body
		f.req.MaxBytes = 4
		if _, err := f.in.Install(context.Background(), f.req); !errors.Is(err, ferryhttp.ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestInstallLoad(t *testing.T) {
	r := newRepo(t)
	f := newFixture(t, r)
	r.files[koPath] = f.body
	f.req.Load = true
	f.sys.loaded["falco"] = true // an older version
	f.sys.chcon = true

	dry := f.req
	dry.DryRun = true
	res, err := f.in.Install(context.Background(), dry)
	if err != nil || res.Status != StatusWouldInstall || len(res.Commands) != 3 || len(f.sys.ran) != 0 || len(r.requests()) != 0 {
		t.Fatalf("dry run: %+v, %v, ran %v", res, err, f.sys.ran)
	}
	if _, err := os.Stat(f.dir + "/cache"); !errors.Is(err, os.ErrNotExist) {
		t.Error("dry run wrote the cache")
	}

	res, err = f.in.Install(context.Background(), f.req)
	if err != nil || !res.Loaded {
		t.Fatalf("%+v, %v", res, err)
	}
	want := [][]string{{"rmmod", "falco"}, {"chcon", "-t", "modules_object_t", res.Path}, {"insmod", res.Path}}
	if !cmp.Equal(f.sys.ran, want) {
		t.Errorf("ran %v", f.sys.ran)
	}
	st, _ := ReadState(f.req.StateDir)
	if !cmp.Equal(st.Loaded, []string{"falco"}) {
		t.Errorf("state %+v", st)
	}

	// Nothing loaded, no chcon, insmod fails.
	f.sys.loaded, f.sys.chcon, f.sys.fail, f.sys.ran = map[string]bool{}, false, "insmod", nil
	_, err = f.in.Install(context.Background(), f.req)
	if !errors.Is(err, ErrLoad) || !strings.Contains(err.Error(), "Operation not permitted") {
		t.Fatalf("err = %v", err)
	}
	if !cmp.Equal(f.sys.ran, [][]string{{"insmod", res.Path}}) {
		t.Errorf("ran %v", f.sys.ran)
	}
}

func TestInstallEBPFAndModern(t *testing.T) {
	r := newRepo(t)
	f := newFixture(t, r)
	r.files[strings.TrimSuffix(koPath, ".ko")+".o"] = []byte("probe")
	f.req.Type, f.req.Load = EBPF, true
	res, err := f.in.Install(context.Background(), f.req)
	if err != nil {
		t.Fatal(err)
	}
	target, err := os.Readlink(filepath.Join(f.req.InstallDir, "falco-bpf.o"))
	if err != nil || target != "8.0.0+driver/x86_64/falco_debian_6.1.38-2-cloud-amd64_1.o" || res.Link == "" || len(f.sys.ran) != 0 || res.Note == "" {
		t.Fatalf("link %q, %v, %+v", target, err, res)
	}
	if data, err := os.ReadFile(res.Link); err != nil || string(data) != "probe" {
		t.Errorf("link reads %q, %v", data, err)
	}

	f.req.Type = ModernEBPF
	res, err = f.in.Install(context.Background(), f.req)
	if err != nil || res.Status != StatusNotNeeded || !strings.Contains(res.Note, "nothing to download") || len(r.requests()) != 2 {
		t.Fatalf("%+v, %v, %v", res, err, r.requests())
	}
}

func TestInstallValidation(t *testing.T) {
	f := newFixture(t)
	for name, mutate := range map[string]func(*Request){
		"no version":   func(r *Request) { r.Version = "" },
		"bad version":  func(r *Request) { r.Version = "../x" },
		"no repo":      func(r *Request) { r.Repos = nil },
		"bad sha":      func(r *Request) { r.Repos = []string{"http://x"}; r.SHA256 = "xyz" },
		"bad type":     func(r *Request) { r.Type = "module" },
		"undetermined": func(r *Request) { r.Repos = []string{"http://x"}; r.Target.ID = Undetermined },
	} {
		req := f.req
		mutate(&req)
		if _, err := f.in.Install(context.Background(), req); err == nil {
			t.Errorf("%s: accepted", name)
		} else if name == "undetermined" && !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCleanup(t *testing.T) {
	r := newRepo(t)
	f := newFixture(t, r)
	r.files[strings.TrimSuffix(koPath, ".ko")+".o"] = []byte("probe")
	r.files[koPath] = f.body
	ebpf := f.req
	ebpf.Type = EBPF
	if _, err := f.in.Install(context.Background(), ebpf); err != nil {
		t.Fatal(err)
	}
	f.req.Load = true
	if _, err := f.in.Install(context.Background(), f.req); err != nil {
		t.Fatal(err)
	}
	// A file Falco put there itself is not ours.
	other := filepath.Join(f.req.InstallDir, "other.txt")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	dry, err := f.in.Cleanup(context.Background(), CleanupRequest{StateDir: f.req.StateDir, Name: "falco", Unload: true, DryRun: true})
	// The probe is linked in the install directory and, where the legacy
	// loader put it, in the cache ($HOME/.falco/falco-bpf.o).
	if err != nil || dry.Status != "would-clean" || len(dry.Removed) != 4 || len(dry.Commands) != 1 ||
		dry.Removed[1] != ProbeLink(f.req.CacheDir, "falco") {
		t.Fatalf("dry: %+v, %v", dry, err)
	}
	if !strings.HasSuffix(dry.Removed[0], "falco-bpf.o") || !strings.HasSuffix(dry.Removed[1], "falco-bpf.o") {
		t.Errorf("links go first: %v", dry.Removed)
	}
	f.sys.ran = nil
	res, err := f.in.Cleanup(context.Background(), CleanupRequest{StateDir: f.req.StateDir, Name: "falco", Unload: true})
	if err != nil || res.Status != "cleaned" || len(res.Removed) != 4 {
		t.Fatalf("%+v, %v", res, err)
	}
	if !cmp.Equal(f.sys.ran, [][]string{{"rmmod", "falco"}}) {
		t.Errorf("ran %v", f.sys.ran)
	}
	entries, _ := os.ReadDir(f.req.InstallDir)
	if len(entries) != 1 || entries[0].Name() != "other.txt" {
		t.Errorf("left in the install dir: %v", entries)
	}
	if _, err := os.Stat(StatePath(f.req.StateDir)); !errors.Is(err, os.ErrNotExist) {
		t.Error("state file left")
	}
	if _, err := os.Stat(LocalPath(f.req.CacheDir, f.req.Version, "x86_64", koFile)); err != nil {
		t.Error("cleanup removed the cache")
	}

	res, err = f.in.Cleanup(context.Background(), CleanupRequest{StateDir: f.req.StateDir, Name: "falco", Unload: true})
	if err != nil || res.Status != "nothing" {
		t.Errorf("second cleanup: %+v, %v", res, err)
	}
}

// A file Cleanup cannot remove stays recorded, and so does every file it
// had not tried yet: the next cleanup removes them.
func TestCleanupFailureKeepsWhatIsLeft(t *testing.T) {
	f := newFixture(t)
	base := filepath.Join(f.dir, "host", "root", ".falco")
	stuck := filepath.Join(base, "stuck") // a non-empty directory: os.Remove fails
	later := filepath.Join(base, "later.ko")
	if err := os.MkdirAll(filepath.Join(stuck, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(later, []byte("module"), 0o644); err != nil {
		t.Fatal(err)
	}
	st := &State{Files: []InstalledFile{{Path: stuck, Base: base}, {Path: later, Base: base}}}
	if err := st.write(f.req.StateDir); err != nil {
		t.Fatal(err)
	}
	if _, err := f.in.Cleanup(context.Background(), CleanupRequest{StateDir: f.req.StateDir, Name: "falco"}); err == nil {
		t.Fatal("removing a non-empty directory succeeded")
	}
	got, err := ReadState(f.req.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, x := range got.Files {
		paths = append(paths, x.Path)
	}
	if !cmp.Equal(paths, []string{stuck, later}) {
		t.Errorf("state after a failed cleanup lists %v, want %v", paths, []string{stuck, later})
	}
	if _, err := os.Stat(later); err != nil {
		t.Errorf("a file after the one that failed: %v", err)
	}
}

func TestWriteEngineConfig(t *testing.T) {
	root := t.TempDir()
	res, err := WriteEngineConfig(root, ModernEBPF, true)
	if err != nil || !res.Changed {
		t.Fatalf("%+v, %v", res, err)
	}
	if _, err := os.Stat(res.Path); !errors.Is(err, os.ErrNotExist) {
		t.Error("dry run wrote")
	}
	res, err = WriteEngineConfig(root, Kmod, false)
	if err != nil || !res.Changed || res.Path != filepath.Join(root, "config.d/engine-kind-falcoctl.yaml") {
		t.Fatalf("%+v, %v", res, err)
	}
	data, _ := os.ReadFile(res.Path)
	if string(data) != "engine:\n    kind: kmod\n" {
		t.Errorf("wrote %q", data)
	}
	if res, err := WriteEngineConfig(root, Kmod, false); err != nil || res.Changed {
		t.Errorf("rewrite: %+v, %v", res, err)
	}
	if _, err := WriteEngineConfig(root, "auto", false); err == nil {
		t.Error("auto accepted")
	}
	// A Falco running a driver gets the drop-in; one running plugins
	// (engine kind nodriver, gvisor...) is left alone, as falcoctl does.
	if err := os.WriteFile(filepath.Join(root, "falco.yaml"), []byte("engine:\n  kind: kmod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, err := WriteEngineConfig(root, ModernEBPF, false); err != nil || !res.Changed || res.Skipped != "" {
		t.Errorf("driver engine: %+v, %v", res, err)
	}
	if err := os.WriteFile(filepath.Join(root, "falco.yaml"), []byte("engine:\n  kind: nodriver\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, err := WriteEngineConfig(root, Kmod, false); err != nil || res.Changed || !strings.Contains(res.Skipped, `"nodriver"`) {
		t.Errorf("plugin engine: %+v, %v", res, err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "config.d", EngineConfigName)); string(data) != "engine:\n    kind: modern_ebpf\n" {
		t.Errorf("skipped config changed: %q", data)
	}
}

// Installs running at once, into one state directory, each keep their record.
func TestInstallConcurrentStateUpdates(t *testing.T) {
	r := newRepo(t)
	f := newFixture(t, r)
	const n = 16
	reqs := make([]Request, n)
	for i := range reqs {
		req := f.req
		req.Version = fmt.Sprintf("8.0.%d+driver", i)
		r.files[fmt.Sprintf("/8.0.%d%%2Bdriver/x86_64/%s", i, koFile)] = f.body
		reqs[i] = req
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, req := range reqs {
		wg.Go(func() {
			// Each its own installer, as separate processes would be.
			in := &Installer{HTTP: f.in.HTTP, System: f.sys}
			_, errs[i] = in.Install(context.Background(), req)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("install %d: %v", i, err)
		}
	}
	st, err := ReadState(f.req.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Files) != n {
		t.Errorf("state records %d files, want %d", len(st.Files), n)
	}
}
