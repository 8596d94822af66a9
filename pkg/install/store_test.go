package install

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type env struct {
	t        *testing.T
	stateDir string
	dest     string
	store    *Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	base := t.TempDir()
	e := &env{
		t:        t,
		stateDir: filepath.Join(base, "state"),
		dest:     filepath.Join(base, "etc", "falco"),
	}
	e.store = &Store{StateDir: e.stateDir}
	return e
}

func (e *env) record(key, version string) Record {
	return Record{
		Key:        key,
		Name:       filepath.Base(key),
		Type:       "rulesfile",
		Version:    version,
		Registry:   "ghcr.io",
		Repository: strings.TrimPrefix(key, "ghcr.io/"),
		Digest:     "sha256:" + strings.Repeat("0", 64),
		Dir:        e.dest,
	}
}

func (e *env) install(key, version string, files map[string]int) (Record, error) {
	e.t.Helper()
	layer := artifact(e.t, key, version, files)
	return e.store.Install(e.t.Context(), e.record(key, version), bytes.NewReader(layer), nil)
}

func (e *env) mustInstall(key, version string, files map[string]int) Record {
	e.t.Helper()
	rec, err := e.install(key, version, files)
	if err != nil {
		e.t.Fatalf("installing %s %s: %v", key, version, err)
	}
	return rec
}

func (e *env) state() *State {
	e.t.Helper()
	s, err := LoadState(e.stateDir)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// installed is what a test expects one record to own.
type installed struct {
	version string
	files   map[string]int // as given to artifact: paths, "dir/" for directories
}

// assertInstalled checks that the state lists exactly want (key -> what it
// owns), that the destination holds exactly those files with the right
// contents plus extra (unowned files, path -> content), and that no
// journal, staging directory or temporary file is left.
func (e *env) assertInstalled(want map[string]installed, extra map[string]string) {
	e.t.Helper()
	st := e.state()
	got := make(map[string]installed)
	wantTree := make(map[string]string)
	for k, v := range extra {
		wantTree[k] = v
	}
	for _, r := range st.Artifacts {
		files := make(map[string]int)
		for _, f := range r.Files {
			if f.IsDir() {
				files[f.Path+"/"] = 0
				wantTree[f.Path+"/"] = ""
				continue
			}
			files[f.Path] = int(f.Size)
			wantTree[f.Path] = content(r.Key, r.Version, f.Path, int(f.Size))
		}
		got[r.Key] = installed{version: r.Version, files: files}
		if err := r.Check(); err != nil {
			e.t.Errorf("record %s not intact: %v", r.Key, err)
		}
		if r.Dir != e.dest {
			e.t.Errorf("record %s: dir %q, want %q", r.Key, r.Dir, e.dest)
		}
	}
	// The expected files list their sizes; directories implied by paths
	// are listed by the record too.
	norm := make(map[string]installed)
	for k, v := range want {
		files := make(map[string]int)
		for p, size := range v.files {
			if !strings.HasSuffix(p, "/") {
				files[p] = len(content(k, v.version, p, size))
			} else {
				files[p] = 0
			}
			for d := filepath.Dir(strings.TrimSuffix(p, "/")); d != "."; d = filepath.Dir(d) {
				files[d+"/"] = 0
			}
		}
		norm[k] = installed{version: v.version, files: files}
	}
	if diff := cmp.Diff(norm, got, cmp.AllowUnexported(installed{})); diff != "" {
		e.t.Errorf("state (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(e.dest); err == nil {
		if diff := cmp.Diff(wantTree, tree(e.t, e.dest)); diff != "" {
			e.t.Errorf("destination tree (-want +got):\n%s", diff)
		}
	} else if len(wantTree) > 0 {
		e.t.Errorf("destination: %v", err)
	}
	e.assertNoLitter()
}

func (e *env) assertNoLitter() {
	e.t.Helper()
	if _, err := os.Lstat(filepath.Join(e.dest, stagingDirName)); !errors.Is(err, fs.ErrNotExist) {
		e.t.Errorf("%s left behind (%v)", stagingDirName, err)
	}
	for _, dir := range []string{e.stateDir, filepath.Join(e.stateDir, journalDirName)} {
		entries, _ := os.ReadDir(dir)
		for _, en := range entries {
			if en.Name() != stateFileName && en.Name() != journalDirName && en.Name() != lockFileName {
				e.t.Errorf("left in %s: %s", dir, en.Name())
			}
		}
	}
}

// assertComplete checks that every visible file of the destination is a
// complete file of some version: what a consumer may observe at any time.
func assertComplete(t *testing.T, dest string) map[string]string {
	t.Helper()
	versions := make(map[string]string)
	for p, data := range tree(t, dest) {
		if strings.HasSuffix(p, "/") || strings.HasPrefix(p, stagingDirName+"/") {
			continue
		}
		key, version, err := parseContent(p, data)
		if err != nil {
			t.Errorf("visible file: %v", err)
			continue
		}
		versions[p] = key + "@" + version
	}
	return versions
}

var (
	v1Files = map[string]int{"common.yaml": 100, "only1.yaml": 50, "sub/a.yaml": 10, "sub/deep/d1.yaml": 4000}
	v2Files = map[string]int{"common.yaml": 300, "only2.yaml": 70, "sub/b.yaml": 20, "taken.yaml": 33, "new/dir/n.yaml": 5000, "empty/": 0}
	other   = map[string]int{"taken.yaml": 40, "other.yaml": 60}
)

func TestInstallUpgradeRemove(t *testing.T) {
	e := newEnv(t)
	rec := e.mustInstall("ghcr.io/falcosecurity/rules/k", "1.0.0", v1Files)
	if rec.Dir != e.dest || rec.InstalledAt.IsZero() || len(rec.Files) != 6 {
		t.Errorf("Install() = %+v", rec)
	}
	e.assertInstalled(map[string]installed{"ghcr.io/falcosecurity/rules/k": {"1.0.0", v1Files}}, nil)

	e.mustInstall("ghcr.io/falcosecurity/rules/k", "2.0.0", v2Files)
	e.assertInstalled(map[string]installed{"ghcr.io/falcosecurity/rules/k": {"2.0.0", v2Files}}, nil)

	if err := e.store.Remove(t.Context(), "ghcr.io/falcosecurity/rules/k"); err != nil {
		t.Fatal(err)
	}
	e.assertInstalled(map[string]installed{}, nil)
	if err := e.store.Remove(t.Context(), "ghcr.io/falcosecurity/rules/k"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("second Remove() = %v, want ErrNotInstalled", err)
	}
}

func TestInstallTakesOverFiles(t *testing.T) {
	e := newEnv(t)
	e.mustInstall("other", "1", other)
	e.mustInstall("k", "2", v2Files)
	otherNow := map[string]int{"other.yaml": 60}
	e.assertInstalled(map[string]installed{"other": {"1", otherNow}, "k": {"2", v2Files}}, nil)

	// Removing the former owner keeps the file; removing the new one
	// deletes it.
	if err := e.store.Remove(t.Context(), "other"); err != nil {
		t.Fatal(err)
	}
	e.assertInstalled(map[string]installed{"k": {"2", v2Files}}, nil)
	if err := e.store.Remove(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	e.assertInstalled(map[string]installed{}, nil)
}

func TestInstallLeavesForeignFilesAlone(t *testing.T) {
	e := newEnv(t)
	if err := os.MkdirAll(filepath.Join(e.dest, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	foreign := map[string]string{"local.yaml": "mine", "sub/mine.yaml": "mine too"}
	for p, c := range foreign {
		if err := os.WriteFile(filepath.Join(e.dest, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.mustInstall("k", "1", v1Files)
	e.mustInstall("k", "2", v2Files)
	if err := e.store.Remove(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	// sub/ was listed by the record but is not empty: it stays.
	foreign["sub/"] = ""
	e.assertInstalled(map[string]installed{}, foreign)
}

func TestInstallRefusalChangesNothing(t *testing.T) {
	errVerify := errors.New("digest mismatch")
	tests := []struct {
		name    string
		layer   func(t *testing.T) []byte
		verify  func() error
		setup   func(t *testing.T, e *env)
		wantErr error
	}{
		{
			name:    "verification fails",
			layer:   func(t *testing.T) []byte { return artifact(t, "k", "2", v2Files) },
			verify:  func() error { return errVerify },
			wantErr: errVerify,
		},
		{
			name: "unsafe archive",
			layer: func(t *testing.T) []byte {
				return buildTarGz(t, []tarEntry{{Name: "ok.yaml", Body: "x"}, {Name: "../escape", Body: "x"}})
			},
			wantErr: ErrUnsafeArchive,
		},
		{
			name:    "corrupt archive",
			layer:   func(t *testing.T) []byte { b := artifact(t, "k", "2", v2Files); return b[:len(b)-10] },
			wantErr: ErrCorruptArchive,
		},
		{
			name:    "corrupt archive with a digest mismatch reports the mismatch",
			layer:   func(t *testing.T) []byte { b := artifact(t, "k", "2", v2Files); return b[:len(b)-10] },
			verify:  func() error { return errVerify },
			wantErr: errVerify,
		},
		{
			name:    "reserved staging name",
			layer:   func(t *testing.T) []byte { return buildTarGz(t, []tarEntry{{Name: ".ferry-staging/x", Body: "x"}}) },
			wantErr: ErrUnsafeArchive,
		},
		{
			name: "directory where a file goes",
			layer: func(t *testing.T) []byte {
				return artifact(t, "k", "2", map[string]int{"dir.yaml": 10, "other.yaml": 10})
			},
			setup: func(t *testing.T, e *env) {
				if err := os.Mkdir(filepath.Join(e.dest, "dir.yaml"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: ErrConflict,
		},
		{
			name:  "file where a directory goes",
			layer: func(t *testing.T) []byte { return artifact(t, "k", "2", map[string]int{"plain/x.yaml": 10}) },
			setup: func(t *testing.T, e *env) {
				if err := os.WriteFile(filepath.Join(e.dest, "plain"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: ErrConflict,
		},
		{
			name:  "symlink out of the destination",
			layer: func(t *testing.T) []byte { return artifact(t, "k", "2", map[string]int{"out/x.yaml": 10}) },
			setup: func(t *testing.T, e *env) {
				if err := os.Symlink(t.TempDir(), filepath.Join(e.dest, "out")); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: ErrConflict,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.mustInstall("k", "1", v1Files)
			extra := map[string]string{}
			if tt.setup != nil {
				tt.setup(t, e)
				for p, c := range tree(t, e.dest) {
					if _, ok := v1Files[p]; !ok && !slices.Contains([]string{"sub/", "sub/deep/"}, p) {
						extra[p] = c
					}
				}
			}
			before := e.state()
			_, err := e.store.Install(t.Context(), e.record("k", "2"), bytes.NewReader(tt.layer(t)), tt.verify)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Install() error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(before, e.state()); diff != "" {
				t.Errorf("state changed (-before +after):\n%s", diff)
			}
			e.assertInstalled(map[string]installed{"k": {"1", v1Files}}, extra)
		})
	}
}

// The state directory inside the destination must not be writable by an
// artifact.
func TestInstallRefusesStateDir(t *testing.T) {
	e := newEnv(t)
	e.stateDir = filepath.Join(e.dest, "state")
	e.store.StateDir = e.stateDir
	_, err := e.install("k", "1", map[string]int{"state/state.json": 10})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Install() error = %v, want ErrConflict", err)
	}
}

func TestInstallMovesDirectory(t *testing.T) {
	e := newEnv(t)
	e.mustInstall("k", "1", v1Files)
	oldDest := e.dest
	e.dest = filepath.Join(filepath.Dir(oldDest), "elsewhere")
	e.mustInstall("k", "2", v2Files)
	e.assertInstalled(map[string]installed{"k": {"2", v2Files}}, nil)
	if got := tree(t, oldDest); len(got) != 0 {
		t.Errorf("old directory still holds %v", sortedNames(got))
	}
}

func TestRecoverRemovesOrphanStaging(t *testing.T) {
	e := newEnv(t)
	e.mustInstall("k", "1", v1Files)
	st, err := Stage(e.dest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unpack(t.Context(), bytes.NewReader(artifact(t, "k", "2", v2Files)), st.Dir(), DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	// A new directory that no record mentions: only Recover's dirs find it.
	newDest := filepath.Join(filepath.Dir(e.dest), "plugins")
	st2, err := Stage(newDest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(st2.Dir(), "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Recover(e.stateDir, newDest); err != nil {
		t.Fatal(err)
	}
	e.assertInstalled(map[string]installed{"k": {"1", v1Files}}, nil)
	if got := tree(t, newDest); len(got) != 0 {
		t.Errorf("%s holds %v", newDest, sortedNames(got))
	}
}

func TestRecoverRefusesCorruptJournal(t *testing.T) {
	e := newEnv(t)
	e.mustInstall("k", "1", v1Files)
	jdir := filepath.Join(e.stateDir, journalDirName)
	for name, data := range map[string]string{
		"0-x.json": "{not json",
		"1-y.json": `{"id":"1-y","op":"install","key":"k","dir":"/tmp","staging":".ferry-staging/1-y","renames":["../../etc/passwd"],"state":{"version":1,"artifacts":[]}}`,
		"2-z.json": `{"id":"other","op":"remove","key":"k","state":{"version":1,"artifacts":[]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(jdir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(filepath.Join(jdir, name))
			if err := Recover(e.stateDir); !errors.Is(err, ErrCorruptState) {
				t.Fatalf("Recover() = %v, want ErrCorruptState", err)
			}
			if _, err := os.Stat(filepath.Join(jdir, name)); err != nil {
				t.Errorf("corrupt journal was removed: %v", err)
			}
			if _, err := e.install("k", "2", v2Files); !errors.Is(err, ErrCorruptState) {
				t.Errorf("Install() with a corrupt journal = %v, want ErrCorruptState", err)
			}
		})
	}
	e.assertInstalled(map[string]installed{"k": {"1", v1Files}}, nil)
}

// recordSteps runs op with a hook that records the crash points it passes.
func recordSteps(t *testing.T, s *Store, op func() error) []string {
	t.Helper()
	var steps []string
	s.crashAt = func(step string) bool { steps = append(steps, step); return false }
	defer func() { s.crashAt = nil }()
	if err := op(); err != nil {
		t.Fatal(err)
	}
	return steps
}

// crashSetup installs other and k@1, the state every crash test starts from.
func crashSetup(t *testing.T) *env {
	e := newEnv(t)
	e.mustInstall("other", "1", other)
	e.mustInstall("k", "1", v1Files)
	return e
}

var (
	wantOld = map[string]installed{"other": {"1", other}, "k": {"1", v1Files}}
	wantNew = map[string]installed{"other": {"1", map[string]int{"other.yaml": 60}}, "k": {"2", v2Files}}
)

func installSteps(t *testing.T) []string {
	e := crashSetup(t)
	steps := recordSteps(t, e.store, func() error { _, err := e.install("k", "2", v2Files); return err })
	for _, want := range []string{"unpacked", "journal-tmp", "journaled", "rename-0", "renamed", "state-tmp", "state", "remove-0", "removed", "unstaged"} {
		if !slices.Contains(steps, want) {
			t.Fatalf("step %q not reached; steps: %v", want, steps)
		}
	}
	return steps
}

// A crash at any step of an install leaves visible files complete, and
// Recover then yields exactly the old version (crash before the journal)
// or exactly the new one.
func TestCrashDuringInstall(t *testing.T) {
	steps := installSteps(t)
	committed := false
	for _, step := range steps {
		committed = committed || step == "journaled"
		t.Run(step, func(t *testing.T) {
			e := crashSetup(t)
			e.store.crashAt = func(s string) bool { return s == step }
			if _, err := e.install("k", "2", v2Files); !errors.Is(err, errCrashed) {
				t.Fatalf("Install() = %v, want a crash at %s", err, step)
			}
			e.store.crashAt = nil
			assertComplete(t, e.dest)
			if err := Recover(e.stateDir); err != nil {
				t.Fatal(err)
			}
			if committed {
				e.assertInstalled(wantNew, nil)
			} else {
				e.assertInstalled(wantOld, nil)
			}
		})
	}
}

// Recovery can itself be interrupted at any step, and still converges.
func TestCrashDuringRecovery(t *testing.T) {
	steps := installSteps(t)
	i := slices.Index(steps, "journaled")
	for _, first := range steps[i:] {
		// The steps recovery goes through after this crash.
		e := crashSetup(t)
		e.store.crashAt = func(s string) bool { return s == first }
		if _, err := e.install("k", "2", v2Files); !errors.Is(err, errCrashed) {
			t.Fatalf("Install() = %v, want a crash at %s", err, first)
		}
		var recSteps []string
		if err := recoverState(e.stateDir, nil, func(s string) bool { recSteps = append(recSteps, s); return false }); err != nil {
			t.Fatal(err)
		}
		for _, second := range recSteps {
			t.Run(first+"/"+second, func(t *testing.T) {
				e := crashSetup(t)
				e.store.crashAt = func(s string) bool { return s == first }
				if _, err := e.install("k", "2", v2Files); !errors.Is(err, errCrashed) {
					t.Fatalf("Install() = %v, want a crash at %s", err, first)
				}
				if err := recoverState(e.stateDir, nil, func(s string) bool { return s == second }); !errors.Is(err, errCrashed) {
					t.Fatalf("recovery = %v, want a crash at %s", err, second)
				}
				assertComplete(t, e.dest)
				if err := Recover(e.stateDir); err != nil {
					t.Fatal(err)
				}
				e.assertInstalled(wantNew, nil)
			})
		}
	}
}

func TestCrashDuringRemove(t *testing.T) {
	e := crashSetup(t)
	steps := recordSteps(t, e.store, func() error { return e.store.Remove(t.Context(), "k") })
	committed := false
	for _, step := range steps {
		committed = committed || step == "journaled"
		t.Run(step, func(t *testing.T) {
			e := crashSetup(t)
			e.store.crashAt = func(s string) bool { return s == step }
			if err := e.store.Remove(t.Context(), "k"); !errors.Is(err, errCrashed) {
				t.Fatalf("Remove() = %v, want a crash at %s", err, step)
			}
			e.store.crashAt = nil
			assertComplete(t, e.dest)
			if err := Recover(e.stateDir); err != nil {
				t.Fatal(err)
			}
			if committed {
				e.assertInstalled(map[string]installed{"other": {"1", other}}, nil)
			} else {
				e.assertInstalled(wantOld, nil)
			}
		})
	}
}

// A destination deleted between a crash and the recovery must not wedge
// every later run: the journal completes, and the record is not intact.
func TestRecoverAfterDestinationDeleted(t *testing.T) {
	e := crashSetup(t)
	e.store.crashAt = func(s string) bool { return s == "journaled" }
	if _, err := e.install("k", "2", v2Files); !errors.Is(err, errCrashed) {
		t.Fatalf("Install() = %v, want a crash", err)
	}
	removePath(t, e.dest)
	if err := Recover(e.stateDir); err != nil {
		t.Fatal(err)
	}
	rec, ok := e.state().Get("k")
	if !ok || rec.Version != "2" || rec.Intact() {
		t.Errorf("after recovery: %+v (ok=%v, intact=%v); want version 2, not intact", rec, ok, rec.Intact())
	}
	e.store.crashAt = nil
	if rec := e.mustInstall("k", "2", v2Files); !rec.Intact() {
		t.Errorf("reinstalled record not intact: %v", rec.Check())
	}
	if o, _ := e.state().Get("other"); o.Intact() {
		t.Error("record other is intact although its files were deleted")
	}
	e.assertNoLitter()
}

// Stagings come and go concurrently in one destination; an empty
// .ferry-staging removed by one must not fail another's Stage.
func TestStageConcurrentWithDiscard(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "dest")
	var wg sync.WaitGroup
	errs := make(chan error, 8*200)
	for range 8 {
		wg.Go(func() {
			for range 200 {
				st, err := Stage(dest)
				if err != nil {
					errs <- err
					return
				}
				if err := os.WriteFile(filepath.Join(st.Dir(), "f"), nil, 0o644); err != nil {
					errs <- err
				}
				if err := st.Discard(); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := tree(t, dest); len(got) != 0 {
		t.Errorf("left behind: %v", sortedNames(got))
	}
}

var thirdFiles = map[string]int{"third.yaml": 12, "sub/c.yaml": 7}

// stage unpacks key@version into a staging directory of e.dest.
func (e *env) stage(key, version string, files map[string]int) Staged {
	e.t.Helper()
	st, err := Stage(e.dest)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := Unpack(e.t.Context(), bytes.NewReader(artifact(e.t, key, version, files)), st.Dir(), DefaultLimits()); err != nil {
		e.t.Fatal(err)
	}
	return Staged{Staging: st, Record: e.record(key, version)}
}

// commitGroup commits k@2 and third@1 together on top of crashSetup.
func (e *env) commitGroup() []error {
	e.t.Helper()
	_, errs := e.store.CommitAll(e.t.Context(), []Staged{e.stage("k", "2", v2Files), e.stage("third", "1", thirdFiles)})
	return errs
}

var wantGroup = map[string]installed{"other": {"1", map[string]int{"other.yaml": 60}}, "k": {"2", v2Files}, "third": {"1", thirdFiles}}

// A group commit writes one journal and the state once, for all of its
// artifacts.
func TestCommitAllOneJournal(t *testing.T) {
	e := crashSetup(t)
	steps := recordSteps(t, e.store, func() error { return errors.Join(e.commitGroup()...) })
	count := func(step string) int {
		n := 0
		for _, s := range steps {
			if s == step {
				n++
			}
		}
		return n
	}
	if count("journal-tmp") != 1 || count("state-tmp") != 1 {
		t.Errorf("steps %v: want one journal and one state write", steps)
	}
	renames := 0
	for _, s := range steps {
		if strings.HasPrefix(s, "rename-") {
			renames++
		}
	}
	if want := len(v2Files) - 1 + len(thirdFiles); renames != want { // v2Files has one directory
		t.Errorf("%d renames, want %d (steps %v)", renames, want, steps)
	}
	e.assertInstalled(wantGroup, nil)
}

// A crash at any step of a group commit leaves visible files complete, and
// Recover then yields exactly the old versions of all or the new ones of
// all.
func TestCrashDuringCommitAll(t *testing.T) {
	e := crashSetup(t)
	steps := recordSteps(t, e.store, func() error { return errors.Join(e.commitGroup()...) })
	committed := false
	for _, step := range steps {
		committed = committed || step == "journaled"
		t.Run(step, func(t *testing.T) {
			e := crashSetup(t)
			e.store.crashAt = func(s string) bool { return s == step }
			for _, err := range e.commitGroup() {
				if !errors.Is(err, errCrashed) {
					t.Fatalf("CommitAll() = %v, want a crash at %s", err, step)
				}
			}
			e.store.crashAt = nil
			assertComplete(t, e.dest)
			if err := Recover(e.stateDir); err != nil {
				t.Fatal(err)
			}
			if committed {
				e.assertInstalled(wantGroup, nil)
			} else {
				e.assertInstalled(wantOld, nil)
			}
		})
	}
}

// An artifact the plan refuses is left out of the commit; the others land.
func TestCommitAllRefusesOneItem(t *testing.T) {
	e := crashSetup(t)
	if err := os.MkdirAll(filepath.Join(e.dest, "third.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	recs, errs := e.store.CommitAll(t.Context(), []Staged{e.stage("k", "2", v2Files), e.stage("third", "1", thirdFiles), e.stage("k", "3", v1Files)})
	if errs[0] != nil || recs[0].Version != "2" {
		t.Errorf("k@2: %+v, %v; want it installed", recs[0], errs[0])
	}
	if !errors.Is(errs[1], ErrConflict) || !errors.Is(errs[2], ErrConflict) {
		t.Errorf("third (a directory is in the way) and k@3 (k twice): %v, %v; want ErrConflict", errs[1], errs[2])
	}
	if err := os.Remove(filepath.Join(e.dest, "third.yaml")); err != nil {
		t.Fatal(err)
	}
	e.assertInstalled(wantNew, nil)
}
