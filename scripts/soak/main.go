package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ferryhq/ferry/pkg/install"
)

var versions = []string{"1.0.0", "2.0.0"}

type options struct {
	ferry      string
	work       string
	iterations int
	rounds     int
	parallel   int
	artifacts  int
	small      int
	layerMiB   int
	seed       uint64
}

func main() {
	var o options
	flag.StringVar(&o.ferry, "ferry", "bin/ferry", "the ferry binary")
	flag.StringVar(&o.work, "work", ".soak", "working directory (emptied first)")
	flag.IntVar(&o.iterations, "iterations", 100, "installs killed at a random point, one at a time")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds of concurrent installs")
	flag.IntVar(&o.parallel, "parallel", 10, "installs per concurrent round")
	flag.IntVar(&o.artifacts, "artifacts", 3, "artifacts with a large file, each in two versions")
	flag.IntVar(&o.small, "small", 12, "small artifacts (a few files each), each in two versions; every install commits them with the large ones")
	flag.IntVar(&o.layerMiB, "layer-mib", 4, "size of each artifact's large file")
	flag.Uint64Var(&o.seed, "seed", 0, "random seed (0: from the clock; printed for replay)")
	flag.Parse()
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	s, err := setup(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	defer s.stop()
	err = s.run()
	fmt.Print(s.summary())
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if len(s.violations) > 0 {
		os.Exit(1)
	}
}

// soak is one run: the registry, the fixtures and the tallies.
type soak struct {
	options
	rng      *mrand.Rand
	registry string
	regPID   int
	env      []string
	dir      string // the install directory
	stateDir string
	// want maps artifact name → version → file path → sha256.
	want map[string]map[string]map[string]string
	// fullRun is how long one uninterrupted install of everything takes.
	fullRun time.Duration

	kills, finished, midSwap, midFetch, recoveries, concurrent, concurrentKills int
	// groupSwaps counts the kills that left the journal of a commit of
	// several artifacts; maxParts is the most artifacts one held.
	groupSwaps, maxParts int
	// mixed counts recoveries after which one command's set of artifacts
	// was not at one version (a violation each).
	setChecks  int
	violations []string
}

func setup(o options) (*soak, error) {
	work, err := filepath.Abs(o.work)
	if err != nil {
		return nil, err
	}
	if o.ferry, err = filepath.Abs(o.ferry); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(work); err != nil {
		return nil, err
	}
	s := &soak{options: o, rng: mrand.New(mrand.NewPCG(o.seed, o.seed^0x5eed)), dir: filepath.Join(work, "assets"), stateDir: filepath.Join(work, "state")}
	s.work = work
	out, err := exec.Command("scripts/start-registry", filepath.Join(work, "registry")).Output()
	if err != nil {
		return nil, fmt.Errorf("starting the registry: %w", err)
	}
	s.registry = strings.TrimSpace(string(out))
	pid, err := os.ReadFile(filepath.Join(work, "registry", "registry.pid"))
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Sscan(string(pid), &s.regPID); err != nil {
		return nil, fmt.Errorf("registry pid %q: %w", pid, err)
	}
	s.env = append(os.Environ(), "FERRY_CONFIG="+filepath.Join(work, "config.yaml"), "XDG_CACHE_HOME="+filepath.Join(work, "cache"),
		"DOCKER_CONFIG="+filepath.Join(work, "docker"), "FERRY_PLAIN_HTTP=true")
	if err := s.push(); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *soak) stop() {
	if s.regPID > 0 {
		_ = syscall.Kill(s.regPID, syscall.SIGTERM)
	}
}

// name is the i-th artifact: the large ones first, then the small ones.
func (s *soak) name(i int) string {
	if i < s.artifacts {
		return fmt.Sprintf("soak%d", i)
	}
	return fmt.Sprintf("soaksmall%d", i-s.artifacts)
}

func (s *soak) count() int { return s.artifacts + s.small }

func (s *soak) ref(name, version string) string {
	return s.registry + "/soak/" + name + ":" + version
}

// push publishes every artifact in both versions. The versions share some
// paths (with different content) and each has a file the other lacks.
func (s *soak) push() error {
	s.want = map[string]map[string]map[string]string{}
	for i := range s.count() {
		name := s.name(i)
		s.want[name] = map[string]map[string]string{}
		for _, v := range versions {
			files := map[string][]byte{
				name + "/rules.yaml": fmt.Appendf(nil, "- rule: %s %s\n", name, v),
				name + "/only-" + v:  []byte(v),
			}
			if i < s.artifacts {
				files = s.largeFiles(name, v)
			}
			tgz, err := tarball(files)
			if err != nil {
				return err
			}
			p := filepath.Join(s.work, "src", name+"-"+v+".tar.gz")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, tgz, 0o644); err != nil {
				return err
			}
			if out, err := s.ferryCmd(context.Background(), "artifact", "push", s.registry+"/soak/"+name, p, "--type", "asset",
				"--version", v, "--state-dir", filepath.Join(s.work, "pushstate")).CombinedOutput(); err != nil {
				return fmt.Errorf("pushing %s %s: %w\n%s", name, v, err, out)
			}
			sums := map[string]string{}
			for path, data := range files {
				sums[path] = sha(data)
			}
			s.want[name][v] = sums
		}
	}
	return nil
}

// largeFiles is one version of a large artifact: a few MiB, a directory,
// many small files (a longer swap to kill).
func (s *soak) largeFiles(name, v string) map[string][]byte {
	files := map[string][]byte{
		name + "/large.bin":         random(s.layerMiB << 20),
		name + "/rules.yaml":        fmt.Appendf(nil, "- rule: %s %s\n", name, v),
		name + "/conf/settings.ini": fmt.Appendf(nil, "version=%s\n%s", v, random(1000)),
		name + "/only-" + v:         []byte(v),
	}
	for j := range 40 {
		files[fmt.Sprintf("%s/small/%d.txt", name, j)] = fmt.Appendf(nil, "%s %s %d %x", name, v, j, random(64))
	}
	return files
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func tarball(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(files[p])), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[p]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *soak) ferryCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.ferry, args...)
	cmd.Env = s.env
	return cmd
}

// installArgs installs the given artifacts at the given versions.
func (s *soak) installArgs(pick map[string]string, extra ...string) []string {
	args := []string{"artifact", "install"}
	names := make([]string, 0, len(pick))
	for n := range pick {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		args = append(args, s.ref(n, pick[n]))
	}
	return append(append(args, "--assets-dir", s.dir, "--state-dir", s.stateDir, "--max-size", "1073741824"), extra...)
}

func (s *soak) all(v string) map[string]string {
	pick := map[string]string{}
	for i := range s.count() {
		pick[s.name(i)] = v
	}
	return pick
}

// start runs an install; killAfter > 0 kills it with SIGKILL after that
// long. It reports whether the kill hit a running process.
func (s *soak) start(args []string, killAfter time.Duration) (killed bool, out []byte, err error) {
	cmd := s.ferryCmd(context.Background(), args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		return false, nil, err
	}
	if killAfter > 0 {
		t := time.AfterFunc(killAfter, func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
		defer t.Stop()
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true, buf.Bytes(), nil
		}
	}
	return false, buf.Bytes(), err
}

func (s *soak) run() error {
	// Calibrate: the kills spread over one whole install.
	begin := time.Now()
	if _, out, err := s.start(s.installArgs(s.all(versions[0])), 0); err != nil {
		return fmt.Errorf("first install: %w\n%s", err, out)
	}
	s.fullRun = time.Since(begin)
	s.check("after the first install", true)
	for i := range s.iterations {
		v := versions[(i+1)%2]
		delay := time.Duration(s.rng.Int64N(int64(s.fullRun)*6/5)) + time.Millisecond
		killed, out, err := s.start(s.installArgs(s.all(v)), delay)
		if err != nil {
			s.violate("iteration %d: install of %s failed: %v\n%s", i, v, err, out)
		}
		if killed {
			s.kills++
		} else {
			s.finished++
		}
		s.afterKill(fmt.Sprintf("iteration %d (%s, kill at %v)", i, v, delay), true)
	}
	for r := range s.rounds {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for p := range s.parallel {
			pick := map[string]string{}
			for i := range s.count() {
				if s.rng.IntN(3) > 0 {
					pick[s.name(i)] = versions[s.rng.IntN(2)]
				}
			}
			if len(pick) == 0 {
				pick[s.name(0)] = versions[0]
			}
			var delay time.Duration
			if p%2 == 1 { // half of them are killed, at a point of a full run
				delay = time.Duration(s.rng.Int64N(int64(s.fullRun)*3)) + time.Millisecond
			}
			args := s.installArgs(pick)
			wg.Go(func() {
				killed, out, err := s.start(args, delay)
				mu.Lock()
				defer mu.Unlock()
				s.concurrent++
				if killed {
					s.concurrentKills++
				}
				if err != nil {
					s.violate("round %d: concurrent install %d failed: %v\n%s", r, p, err, out)
				}
			})
		}
		wg.Wait()
		s.afterKill(fmt.Sprintf("concurrent round %d", r), false)
	}
	// A last full install must succeed and leave everything at one version.
	if _, out, err := s.start(s.installArgs(s.all(versions[1])), 0); err != nil {
		s.violate("final install: %v\n%s", err, out)
	}
	s.check("after the final install", true)
	return nil
}

// afterKill checks the disk as the kill left it, recovers (a dry run
// takes the lock and rolls the journal forward or back), and checks
// again, now the state too. With oneSet (the kill hit one install of
// every artifact at one version) the recovered state must also hold every
// artifact at one version: the install commits its set as one.
func (s *soak) afterKill(when string, oneSet bool) {
	if entries, _ := os.ReadDir(filepath.Join(s.stateDir, "journal")); len(entries) > 0 {
		s.midSwap++
		for _, e := range entries {
			if n := journalParts(filepath.Join(s.stateDir, "journal", e.Name())); n > 1 {
				s.groupSwaps++
				s.maxParts = max(s.maxParts, n)
			}
		}
	} else if entries, _ := os.ReadDir(filepath.Join(s.dir, ".ferry-staging")); len(entries) > 0 {
		s.midFetch++
	}
	s.check(when+", before recovery", false)
	if _, out, err := s.start(s.installArgs(s.all(versions[0]), "--dry-run"), 0); err != nil {
		s.violate("%s: recovery (a dry run) failed: %v\n%s", when, err, out)
		return
	}
	s.recoveries++
	s.check(when+", after recovery", true)
	if oneSet {
		s.checkOneSet(when + ", after recovery")
	}
}

// journalParts is the number of artifacts a journal commits (0 if it
// cannot be read, as when the kill left a temporary file).
func journalParts(p string) int {
	data, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	var j struct {
		Parts   []json.RawMessage `json:"parts"`
		Staging string            `json:"staging"`
	}
	if json.Unmarshal(data, &j) != nil {
		return 0
	}
	if j.Staging != "" {
		return 1 + len(j.Parts)
	}
	return len(j.Parts)
}

// checkOneSet verifies that the state holds every artifact, all at one
// version.
func (s *soak) checkOneSet(when string) {
	state, err := install.LoadState(s.stateDir)
	if err != nil {
		s.violate("%s: state: %v", when, err)
		return
	}
	s.setChecks++
	at := map[string][]string{}
	for _, rec := range state.Artifacts {
		at[rec.Version] = append(at[rec.Version], rec.Name)
	}
	if len(at) != 1 || len(state.Artifacts) != s.count() {
		s.violate("%s: one install's set is split: %d of %d artifacts recorded, by version %v", when, len(state.Artifacts), s.count(), at)
	}
}

func (s *soak) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.violations = append(s.violations, msg)
	fmt.Fprintln(os.Stderr, "VIOLATION:", msg)
}

// check verifies that every file under the install directory (outside
// the staging area) is complete: byte for byte the file of some version.
// With recovered, it also verifies the state against the disk: each
// record at one pushed version, every file of that version present and
// intact, no file that no record lists, no staging or journal left.
func (s *soak) check(when string, recovered bool) {
	onDisk := map[string]string{}
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == s.dir {
				return filepath.SkipDir
			}
			return err
		}
		rel, _ := filepath.Rel(s.dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == ".ferry-staging" && !recovered {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			s.violate("%s: %s is not a regular file", when, rel)
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		onDisk[rel] = sha(data)
		return nil
	})
	if err != nil {
		s.violate("%s: walking %s: %v", when, s.dir, err)
		return
	}
	for rel, sum := range onDisk {
		if strings.HasPrefix(rel, ".ferry-staging/") {
			s.violate("%s: staging left after recovery: %s", when, rel)
			continue
		}
		if !s.known(rel, sum) {
			s.violate("%s: %s is no complete version of itself (torn or foreign)", when, rel)
		}
	}
	if !recovered {
		return
	}
	if entries, _ := os.ReadDir(filepath.Join(s.stateDir, "journal")); len(entries) > 0 {
		s.violate("%s: %d journal(s) left after recovery", when, len(entries))
	}
	state, err := install.LoadState(s.stateDir)
	if err != nil {
		s.violate("%s: state: %v", when, err)
		return
	}
	listed := map[string]bool{}
	for _, rec := range state.Artifacts {
		vs, ok := s.want[rec.Name]
		if !ok {
			s.violate("%s: state records unknown artifact %q", when, rec.Name)
			continue
		}
		want, ok := vs[rec.Version]
		if !ok {
			s.violate("%s: state records %s at unknown version %q", when, rec.Name, rec.Version)
			continue
		}
		if rec.Dir != s.dir {
			s.violate("%s: %s recorded in %s, not %s", when, rec.Name, rec.Dir, s.dir)
		}
		var files []string
		for _, f := range rec.Files {
			if !f.Mode.IsDir() {
				files = append(files, f.Path)
				listed[f.Path] = true
			}
		}
		var wantFiles []string
		for p := range want {
			wantFiles = append(wantFiles, p)
		}
		slices.Sort(files)
		slices.Sort(wantFiles)
		if !slices.Equal(files, wantFiles) {
			s.violate("%s: state lists for %s %s the files %v, want %v", when, rec.Name, rec.Version, files, wantFiles)
		}
		for p, sum := range want {
			if got, ok := onDisk[p]; !ok {
				s.violate("%s: %s %s: %s is missing", when, rec.Name, rec.Version, p)
			} else if got != sum {
				s.violate("%s: %s is recorded at %s but %s is another version's", when, rec.Name, rec.Version, p)
			}
		}
	}
	for p := range onDisk {
		if !listed[p] {
			s.violate("%s: %s is on disk but no record lists it", when, p)
		}
	}
}

// known reports whether sum is the content of path in some version of
// some artifact.
func (s *soak) known(path, sum string) bool {
	for _, vs := range s.want {
		for _, files := range vs {
			if files[path] == sum {
				return true
			}
		}
	}
	return false
}

func (s *soak) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak: seed %d, %d artifacts x 2 versions (%d with a %d MiB file, %d small), installed by one command and committed as one; one full install %v\n",
		s.seed, s.count(), s.artifacts, s.layerMiB, s.small, s.fullRun.Round(time.Millisecond))
	fmt.Fprintf(&b, "  sequential: %d iterations, %d killed, %d finished before the kill\n", s.iterations, s.kills, s.finished)
	fmt.Fprintf(&b, "  kills that left a journal (mid-swap): %d, a staging directory (mid-download or unpack): %d\n", s.midSwap, s.midFetch)
	fmt.Fprintf(&b, "  kills that left the journal of a multi-artifact commit: %d (up to %d artifacts in one)\n", s.groupSwaps, s.maxParts)
	fmt.Fprintf(&b, "  recoveries after which the set was checked to be at one version: %d\n", s.setChecks)
	fmt.Fprintf(&b, "  concurrent: %d rounds of %d installs: %d installs, %d killed\n", s.rounds, s.parallel, s.concurrent, s.concurrentKills)
	fmt.Fprintf(&b, "  recoveries: %d\n", s.recoveries)
	fmt.Fprintf(&b, "  violations: %d\n", len(s.violations))
	return b.String()
}
