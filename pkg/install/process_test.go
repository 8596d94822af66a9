package install

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment of the helper process.
const (
	helperMode  = "FERRY_INSTALL_HELPER"
	helperState = "FERRY_INSTALL_STATE"
	helperDest  = "FERRY_INSTALL_DEST"
	helperKey   = "FERRY_INSTALL_KEY"
	helperSeed  = "FERRY_INSTALL_SEED"
)

// TestHelperProcess is not a test: it is the child process the
// multi-process tests start (the os/exec test pattern).
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperMode)
	if mode == "" {
		t.Skip("helper process for other tests")
	}
	store := &Store{StateDir: os.Getenv(helperState)}
	dest := os.Getenv(helperDest)
	key := os.Getenv(helperKey)
	seed, _ := strconv.Atoi(os.Getenv(helperSeed))
	ctx := context.Background()
	install := func(version string, files map[string]int) error {
		unlock, err := Lock(ctx, store.StateDir)
		if err != nil {
			return err
		}
		defer unlock()
		if err := Recover(store.StateDir, dest); err != nil {
			return err
		}
		rec := Record{Key: key, Version: version, Dir: dest}
		_, err = store.Install(ctx, rec, bytes.NewReader(artifact(t, key, version, files)), nil)
		return err
	}
	switch mode {
	case "loop": // install new versions until killed
		// Tell the parent when a commit starts, so that some kills land
		// in the commit's short window rather than while unpacking.
		store.crashAt = func(step string) bool {
			if step == "journaled" {
				fmt.Println("journaled")
			}
			return false
		}
		for n := 0; ; n++ {
			version := fmt.Sprintf("%d.%d", seed, n)
			if err := install(version, killFiles(n)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			if n == 0 {
				fmt.Println("ready")
			}
		}
	case "concurrent":
		for n := range concurrentRounds {
			if err := install(strconv.Itoa(n), concurrentFiles(key)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		os.Exit(0)
	}
	os.Exit(2)
}

// killFiles is version n's file set: 30 common files, a file and a
// directory that exist only in odd or even versions, and a large file whose
// size changes with n.
func killFiles(n int) map[string]int {
	files := map[string]int{"big.bin": 1<<20 + n%7*1000}
	for i := range 30 {
		files[fmt.Sprintf("rules/common-%02d.yaml", i)] = 16<<10 + i
	}
	parity := [2]string{"even", "odd"}[n%2]
	files[parity+".yaml"] = 3000
	files["sub/"+parity+"/x.yaml"] = 2000
	return files
}

func startHelper(t *testing.T, mode string, extra ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), append([]string{helperMode + "=" + mode}, extra...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

// SIGKILL an installer at random times: visible files are always complete,
// and after Recover the state matches the files exactly.
func TestKill9DuringInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	base := t.TempDir()
	stateDir, dest := filepath.Join(base, "state"), filepath.Join(base, "dest")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	seen := make(map[string]int) // step at which the last kill landed, roughly
	for i := range 20 {
		cmd := startHelper(t, "loop", helperState+"="+stateDir, helperDest+"="+dest, helperKey+"=k", helperSeed+"="+strconv.Itoa(i))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Even iterations: kill at a random time. Odd ones: within a few
		// milliseconds of a journal being written.
		lines := bufio.NewReader(stdout)
		for _, want := range []string{"ready\n", "journaled\n"}[:1+i%2] {
			var line string
			for line != want && err == nil {
				line, err = lines.ReadString('\n')
			}
			if err != nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("helper: waiting for %q: %v", want, err)
			}
		}
		if i%2 == 0 {
			time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		} else {
			time.Sleep(time.Duration(rng.IntN(4000)) * time.Microsecond)
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		// What a consumer sees before any recovery.
		assertComplete(t, dest)
		if _, err := os.Stat(filepath.Join(stateDir, journalDirName)); err == nil {
			entries, _ := os.ReadDir(filepath.Join(stateDir, journalDirName))
			seen[fmt.Sprintf("journals=%d", len(entries))]++
		}
		if _, err := os.Stat(filepath.Join(dest, stagingDirName)); err == nil {
			seen["staging"]++
		}

		unlock, err := Lock(t.Context(), stateDir)
		if err != nil {
			t.Fatal(err)
		}
		if err := Recover(stateDir); err != nil {
			t.Fatal(err)
		}
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
		e := &env{t: t, stateDir: stateDir, dest: dest}
		st := e.state()
		rec, ok := st.Get("k")
		if !ok || len(st.Artifacts) != 1 {
			t.Fatalf("iteration %d: state %+v", i, st)
		}
		var n int
		if _, err := fmt.Sscanf(rec.Version, fmt.Sprintf("%d.%%d", i), &n); err != nil {
			t.Fatalf("iteration %d: version %q: %v", i, rec.Version, err)
		}
		e.assertInstalled(map[string]installed{"k": {rec.Version, killFiles(n)}}, nil)
		if t.Failed() {
			t.Fatalf("iteration %d (version %s): invariants broken", i, rec.Version)
		}
	}
	t.Logf("kills that left work for Recover: %v", seen)
}

const (
	concurrentRounds  = 3
	concurrentWorkers = 6
)

// concurrentFiles is key's file set: one file of its own and one that
// every key writes.
func concurrentFiles(key string) map[string]int {
	return map[string]int{"own-" + key + ".yaml": 5000, "shared.yaml": 7000, "shared/dir/x.yaml": 3000}
}

// assertConcurrent checks the end state of concurrent installs: every key
// at its last round (no lost update), shared files owned by exactly one
// record whose version is in them.
func assertConcurrent(t *testing.T, e *env, keys []string) {
	t.Helper()
	st := e.state()
	if len(st.Artifacts) != len(keys) {
		t.Fatalf("%d records, want %d: %+v", len(st.Artifacts), len(keys), st.Artifacts)
	}
	var owner string
	want := make(map[string]installed)
	for _, key := range keys {
		rec, ok := st.Get(key)
		if !ok {
			t.Fatalf("record %s lost", key)
		}
		files := map[string]int{"own-" + key + ".yaml": 5000}
		for _, f := range rec.Files {
			if f.Path == "shared.yaml" {
				if owner != "" {
					t.Errorf("shared.yaml owned by %s and %s", owner, key)
				}
				owner = key
				files = concurrentFiles(key)
			}
		}
		want[key] = installed{rec.Version, files}
		if rec.Version != strconv.Itoa(concurrentRounds-1) {
			t.Errorf("%s at version %s, want %d", key, rec.Version, concurrentRounds-1)
		}
	}
	if owner == "" {
		t.Fatal("shared.yaml owned by nobody")
	}
	// Directories of the shared path stay listed by the records that wrote
	// them; assertInstalled derives them from the files, so compare files
	// only through the tree.
	got := assertComplete(t, e.dest)
	if got["shared.yaml"] != owner+"@"+want[owner].version {
		t.Errorf("shared.yaml is %s, its owner is %s@%s", got["shared.yaml"], owner, want[owner].version)
	}
	for _, key := range keys {
		if got["own-"+key+".yaml"] != key+"@"+want[key].version {
			t.Errorf("own-%s.yaml is %s", key, got["own-"+key+".yaml"])
		}
		if err := mustGet(t, st, key).Check(); err != nil {
			t.Error(err)
		}
	}
	e.assertNoLitter()
}

func mustGet(t *testing.T, st *State, key string) Record {
	r, ok := st.Get(key)
	if !ok {
		t.Fatalf("no record %s", key)
	}
	return r
}

func TestConcurrentInstallsGoroutines(t *testing.T) {
	e := newEnv(t)
	var keys []string
	for w := range concurrentWorkers {
		keys = append(keys, fmt.Sprintf("g%d", w))
	}
	var wg sync.WaitGroup
	errs := make(chan error, concurrentWorkers*concurrentRounds)
	for _, key := range keys {
		wg.Go(func() {
			for n := range concurrentRounds {
				err := func() error {
					unlock, err := Lock(t.Context(), e.stateDir)
					if err != nil {
						return err
					}
					defer unlock()
					layer := artifact(t, key, strconv.Itoa(n), concurrentFiles(key))
					s := &Store{StateDir: e.stateDir} // a Store per worker, like separate processes
					_, err = s.Install(t.Context(), Record{Key: key, Version: strconv.Itoa(n), Dir: e.dest}, bytes.NewReader(layer), nil)
					return err
				}()
				if err != nil {
					errs <- fmt.Errorf("%s round %d: %w", key, n, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assertConcurrent(t, e, keys)
}

// One process, one lock, one Store, parallel installs (what an
// orchestrator installing several artifacts does): the Store serialises
// the commits.
func TestConcurrentInstallsOneStore(t *testing.T) {
	e := newEnv(t)
	unlock, err := Lock(t.Context(), e.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := Recover(e.stateDir, e.dest); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for w := range concurrentWorkers {
		keys = append(keys, fmt.Sprintf("s%d", w))
	}
	var wg sync.WaitGroup
	errs := make(chan error, concurrentWorkers*concurrentRounds)
	for _, key := range keys {
		wg.Go(func() {
			for n := range concurrentRounds {
				layer := artifact(t, key, strconv.Itoa(n), concurrentFiles(key))
				rec := Record{Key: key, Version: strconv.Itoa(n), Dir: e.dest}
				if _, err := e.store.Install(t.Context(), rec, bytes.NewReader(layer), nil); err != nil {
					errs <- fmt.Errorf("%s round %d: %w", key, n, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assertConcurrent(t, e, keys)
}

func TestConcurrentInstallsProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	e := newEnv(t)
	var keys []string
	var cmds []*exec.Cmd
	for w := range 4 {
		key := fmt.Sprintf("p%d", w)
		keys = append(keys, key)
		cmd := startHelper(t, "concurrent", helperState+"="+e.stateDir, helperDest+"="+e.dest, helperKey+"="+key)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper: %v", err)
		}
	}
	assertConcurrent(t, e, keys)
}

func TestLock(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state", "nested")
	unlock, err := Lock(t.Context(), stateDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, ".lock")); err != nil {
		t.Errorf("lock file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "ferry.lock")); err == nil {
		t.Error("ferry.lock created: that name belongs to the lock file of resolved versions")
	}

	// Held: a second Lock waits until its context ends.
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Lock(ctx, stateDir); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock() = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("second Lock() gave up after %v", d)
	}

	// Released: a waiter gets it promptly.
	got := make(chan error, 1)
	go func() {
		unlock2, err := Lock(t.Context(), stateDir)
		if err == nil {
			err = unlock2()
		}
		got <- err
	}()
	time.Sleep(30 * time.Millisecond)
	select {
	case err := <-got:
		t.Fatalf("Lock() returned %v while the lock was held", err)
	default:
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Errorf("second unlock() = %v", err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter did not get the released lock")
	}
}

// The lock excludes other processes too.
func TestLockExcludesProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	stateDir := t.TempDir()
	unlock, err := Lock(t.Context(), stateDir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("flock", "--nonblock", filepath.Join(stateDir, ".lock"), "true")
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not available")
	}
	if err := cmd.Run(); err == nil {
		t.Error("flock(1) took the lock while Lock held it")
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("flock", "--nonblock", filepath.Join(stateDir, ".lock"), "true").CombinedOutput()
	if err != nil {
		t.Errorf("flock(1) after unlock: %v %s", err, strings.TrimSpace(string(out)))
	}
}
