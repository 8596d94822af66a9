package install

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferryhq/ferry/internal/fsutil"
)

const (
	stagingDirName = ".ferry-staging"
	journalDirName = "journal"
)

// errCrashed is returned when a test hook simulates a crash: the operation
// stops where it is, without any cleanup, as a killed process would.
var errCrashed = errors.New("simulated crash")

// newID returns a unique, time-ordered identifier for a staging directory
// and its journal.
func newID() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating id: %w", err)
	}
	return fmt.Sprintf("%016x-%s", time.Now().UnixNano(), hex.EncodeToString(b[:])), nil
}

// writeFileAtomic replaces dir/name with data (fsutil.ReplaceFileHooked).
// When crash says so at step, it stops just before the rename, leaving the
// temporary file as a killed process would; Recover removes it.
func writeFileAtomic(dir, name string, data []byte, crash func(string) bool, step string) error {
	write := func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
	return fsutil.ReplaceFileHooked(filepath.Join(dir, name), 0o644, write, func() error {
		if crash != nil && crash(step) {
			return errCrashed
		}
		return nil
	})
}

// journal is <stateDir>/journal/<id>.json: everything needed to finish a
// commit after a crash. Applying it is idempotent.
type journal struct {
	ID       string    `json:"id"`
	Op       string    `json:"op"` // "install" or "remove"
	Key      string    `json:"key"`
	Dir      string    `json:"dir,omitempty"`     // destination of the new files
	Staging  string    `json:"staging,omitempty"` // relative to Dir
	Mkdirs   []string  `json:"mkdirs,omitempty"`  // relative to Dir, parents first
	Renames  []string  `json:"renames,omitempty"` // Staging/p becomes p, relative to Dir
	Removals []removal `json:"removals,omitempty"`
	State    *State    `json:"state"` // the complete state once the journal is applied
	// Parts are the artifacts of a group commit, each with its own
	// staging directory; a journal of one artifact uses the fields above.
	Parts []journalPart `json:"parts,omitempty"`
}

// journalPart is one artifact of a commit: the directories to create and
// the staged files to move into Dir.
type journalPart struct {
	Key     string   `json:"key"`
	Dir     string   `json:"dir"`               // destination of the new files
	Staging string   `json:"staging"`           // relative to Dir
	Mkdirs  []string `json:"mkdirs,omitempty"`  // relative to Dir, parents first
	Renames []string `json:"renames,omitempty"` // Staging/p becomes p, relative to Dir

	id string // the staging directory's id
}

// parts returns every artifact of the journal, the one of a single-artifact
// journal included.
func (j *journal) parts() []journalPart {
	var out []journalPart
	if len(j.Mkdirs)+len(j.Renames) > 0 || j.Staging != "" {
		out = append(out, journalPart{Key: j.Key, Dir: j.Dir, Staging: j.Staging, Mkdirs: j.Mkdirs, Renames: j.Renames})
	}
	return append(out, j.Parts...)
}

// removal is a file or (if empty) directory of a previous version.
type removal struct {
	Dir   string `json:"dir"`
	Path  string `json:"path"`
	IsDir bool   `json:"isDir,omitempty"`
}

func (j *journal) validate() error {
	if j.ID == "" || strings.ContainsAny(j.ID, `/\`) || j.ID == "." || j.ID == ".." {
		return fmt.Errorf("invalid journal id %q", j.ID)
	}
	if j.State == nil {
		return errors.New("journal without state")
	}
	if err := j.State.validate(); err != nil {
		return err
	}
	local := func(p string) bool { c, reason := cleanName(p); return reason == "" && c == p && c != "" }
	if len(j.Mkdirs)+len(j.Renames) > 0 || j.Staging != "" {
		if !filepath.IsAbs(j.Dir) {
			return fmt.Errorf("journal directory %q is not absolute", j.Dir)
		}
		if j.Staging != stagingDirName+"/"+j.ID {
			return fmt.Errorf("invalid staging directory %q", j.Staging)
		}
	}
	for _, p := range j.Parts {
		if !filepath.IsAbs(p.Dir) {
			return fmt.Errorf("journal directory %q is not absolute", p.Dir)
		}
		id, ok := strings.CutPrefix(p.Staging, stagingDirName+"/")
		if !ok || id == "" || strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
			return fmt.Errorf("invalid staging directory %q", p.Staging)
		}
	}
	for _, p := range j.parts() {
		for _, q := range append(slices.Clone(p.Mkdirs), p.Renames...) {
			if !local(q) {
				return fmt.Errorf("invalid path %q", q)
			}
		}
	}
	for _, r := range j.Removals {
		if !filepath.IsAbs(r.Dir) || !local(r.Path) {
			return fmt.Errorf("invalid removal %q in %q", r.Path, r.Dir)
		}
	}
	return nil
}

func writeJournal(stateDir string, j *journal, crash func(string) bool) error {
	dir := filepath.Join(stateDir, journalDirName)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := mkdirAll(dir); err != nil {
			return fmt.Errorf("writing journal: %w", err)
		}
		if err := fsutil.SyncDir(stateDir); err != nil {
			return fmt.Errorf("writing journal: %w", err)
		}
	}
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding journal: %w", err)
	}
	if err := writeFileAtomic(dir, j.ID+".json", data, crash, "journal-tmp"); err != nil {
		return fmt.Errorf("writing journal: %w", err)
	}
	return nil
}

func readJournal(p string) (*journal, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading journal: %w", err)
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%w: journal %s: %w", ErrCorruptState, p, err)
	}
	if err := j.validate(); err != nil {
		return nil, fmt.Errorf("%w: journal %s: %w", ErrCorruptState, p, err)
	}
	if filepath.Base(p) != j.ID+".json" {
		return nil, fmt.Errorf("%w: journal %s: id %q does not match its name", ErrCorruptState, p, j.ID)
	}
	return &j, nil
}

// apply rolls a journal forward: renames whose staged file is still there,
// the state, the removals, the cleanup. Every step is idempotent, so apply
// can be repeated after a crash at any point.
func apply(stateDir string, j *journal, crash func(string) bool) error {
	crashed := func(step string) bool { return crash != nil && crash(step) }
	n := 0 // renames so far, to name the crash points
	synced := make(map[string]map[string]bool)
	for _, p := range j.parts() {
		if err := applyRenames(p, &n, synced, crashed); err != nil {
			return err
		}
	}
	// The directories the renames changed, once each, however many
	// artifacts share them.
	for _, dir := range sortedKeys(mapKeys(synced)) {
		if err := syncDirsIn(dir, sortedKeys(synced[dir])); err != nil {
			return err
		}
	}
	if crashed("renamed") {
		return errCrashed
	}
	if err := writeState(stateDir, j.State, crash); err != nil {
		return err
	}
	if crashed("state") {
		return errCrashed
	}
	if err := removeOld(j.Removals, crashed); err != nil {
		return err
	}
	if crashed("removed") {
		return errCrashed
	}
	// The staging directories, grouped by destination: one open of each
	// destination however many artifacts it received.
	staged := make(map[string][]string)
	for _, p := range j.parts() {
		if p.Staging != "" {
			staged[p.Dir] = append(staged[p.Dir], p.Staging)
		}
	}
	for _, dir := range sortedKeys(mapKeys(staged)) {
		if err := cleanStaging(dir, staged[dir]...); err != nil {
			return err
		}
	}
	if crashed("unstaged") {
		return errCrashed
	}
	jdir := filepath.Join(stateDir, journalDirName)
	if err := os.Remove(filepath.Join(jdir, j.ID+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return fsutil.SyncDir(jdir)
}

// applyRenames creates the new directories of one part and moves the
// staged files that are still staged into place, then makes that durable.
// n counts the renames of the journal, to name the crash points; the
// directories to fsync are added to toSync (Dir -> paths relative to it).
func applyRenames(j journalPart, n *int, toSync map[string]map[string]bool, crashed func(string) bool) error {
	if len(j.Mkdirs)+len(j.Renames) == 0 {
		return nil
	}
	root, err := os.OpenRoot(j.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		// The destination, staging included, was deleted after the
		// crash: nothing is left to move. The record will not be Intact.
		return nil
	}
	if err != nil {
		return err
	}
	defer root.Close()
	for _, d := range j.Mkdirs {
		if err := ensureDir(root, d); err != nil {
			return err
		}
	}
	parents := toSync[j.Dir]
	if parents == nil {
		parents = map[string]bool{}
		toSync[j.Dir] = parents
	}
	parents["."] = true
	for _, p := range j.Renames {
		i := *n
		*n++
		from := path.Join(j.Staging, p)
		if _, err := root.Lstat(filepath.FromSlash(from)); errors.Is(err, fs.ErrNotExist) {
			continue // renamed before the crash
		} else if err != nil {
			return err
		}
		if err := root.Rename(filepath.FromSlash(from), filepath.FromSlash(p)); err != nil {
			return err
		}
		parents[path.Dir(p)] = true
		if crashed(fmt.Sprintf("rename-%d", i)) {
			return errCrashed
		}
	}
	return nil
}

// syncDirsIn fsyncs the directories rels of dir (skipped if dir is gone).
func syncDirsIn(dir string, rels []string) error {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer root.Close()
	for _, d := range rels {
		if err := fsutil.SyncDirIn(root, filepath.FromSlash(d)); err != nil {
			return err
		}
	}
	return nil
}

func mapKeys[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// ensureDir creates directory d under root unless it exists.
func ensureDir(root *os.Root, d string) error {
	name := filepath.FromSlash(d)
	fi, err := root.Stat(name)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%w: %s is not a directory", ErrConflict, d)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := root.Mkdir(name, dirMode); errors.Is(err, fs.ErrNotExist) {
		err = root.MkdirAll(name, dirMode)
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	return root.Chmod(name, dirMode)
}

// removeOld deletes the files of a previous version, then its directories
// if they are empty, and makes that durable.
func removeOld(removals []removal, crashed func(string) bool) error {
	roots := make(map[string]*os.Root)
	defer func() {
		for _, r := range roots {
			if r != nil {
				r.Close()
			}
		}
	}()
	rootFor := func(dir string) (*os.Root, error) {
		if r, ok := roots[dir]; ok {
			return r, nil
		}
		r, err := os.OpenRoot(dir)
		if errors.Is(err, fs.ErrNotExist) {
			r, err = nil, nil // nothing left to remove there
		}
		if err != nil {
			return nil, err
		}
		roots[dir] = r
		return r, nil
	}
	// Files first, then directories deepest first.
	ordered := slices.Clone(removals)
	slices.SortStableFunc(ordered, func(a, b removal) int {
		if a.IsDir != b.IsDir {
			if a.IsDir {
				return 1
			}
			return -1
		}
		return -strings.Compare(a.Path, b.Path)
	})
	type dirKey struct{ root, dir string }
	parents := make(map[dirKey]bool)
	for i, r := range ordered {
		root, err := rootFor(r.Dir)
		if err != nil {
			return err
		}
		if root == nil {
			continue
		}
		name := filepath.FromSlash(r.Path)
		fi, err := root.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.IsDir() != r.IsDir {
			continue // replaced by something that is not ours
		}
		if err := root.Remove(name); err != nil {
			if r.IsDir {
				continue // not empty: something else lives there
			}
			return err
		}
		parents[dirKey{r.Dir, path.Dir(r.Path)}] = true
		if crashed(fmt.Sprintf("remove-%d", i)) {
			return errCrashed
		}
	}
	for k := range parents {
		root, err := rootFor(k.root)
		if err != nil || root == nil {
			return err
		}
		if err := fsutil.SyncDirIn(root, filepath.FromSlash(k.dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// cleanStaging removes dir/rel for each rel (a staging directory, or all
// of .ferry-staging when rel is stagingDirName) and .ferry-staging itself
// when empty.
func cleanStaging(dir string, rels ...string) error {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer root.Close()
	// Nothing staged: nothing to remove. (RemoveAll of a missing path fails
	// on a read-only file system, a container's root where no install goes.)
	if _, err := root.Lstat(stagingDirName); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	for _, rel := range rels {
		name := filepath.FromSlash(rel)
		if err := root.Remove(name); err == nil || errors.Is(err, fs.ErrNotExist) {
			continue // empty, as after a commit's renames: one rmdir
		}
		if err := root.RemoveAll(name); err != nil {
			return fmt.Errorf("removing staging directory: %w", err)
		}
	}
	if err := root.Remove(stagingDirName); err != nil && !errors.Is(err, fs.ErrNotExist) {
		if fi, lerr := root.Lstat(stagingDirName); lerr == nil && fi.IsDir() {
			return nil // other staging directories remain
		}
		return fmt.Errorf("removing staging directory: %w", err)
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
