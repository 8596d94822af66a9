package install

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/internal/fsutil"
)

const (
	stagingDirName = ".ferry-staging"
	journalDirName = "journal"
)

// Staging is a private directory, destDir/.ferry-staging/<id>, where an
// artifact is unpacked before it is committed. It is on the destination's
// file system, so committing is a series of atomic renames.
type Staging struct {
	dest string // absolute destination directory
	id   string
	dir  string // dest/.ferry-staging/id
}

// Stage creates destDir (if needed) and a new staging directory inside it.
// The caller must hold the state directory's Lock, and have called Recover
// before (not after: Recover deletes staging directories that have no
// journal). Several stagings may be in progress at once.
func Stage(destDir string) (*Staging, error) {
	dest, err := filepath.Abs(destDir)
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	if err := mkdirAll(dest); err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	id, err := newID()
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	base := filepath.Join(dest, stagingDirName)
	st := &Staging{dest: dest, id: id, dir: filepath.Join(base, id)}
	// A concurrent Discard or commit may remove base when it is empty,
	// between our Mkdir of base and of st.dir: then try again.
	for range 10 {
		if err := os.Mkdir(base, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("staging: %w", err)
		}
		if fi, err := os.Lstat(base); err != nil {
			continue
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("staging: %w: %s is not a directory", ErrConflict, base)
		}
		err := os.Mkdir(st.dir, dirMode)
		if err == nil {
			return st, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("staging: %w", err)
		}
	}
	return nil, fmt.Errorf("staging: %s keeps disappearing", base)
}

// mkdirAll is os.MkdirAll with the directories it creates set to 0755
// whatever the umask.
func mkdirAll(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%w: %s is not a directory", ErrConflict, dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, dirMode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // created concurrently
		}
		return err
	}
	return os.Chmod(dir, dirMode)
}

// Dir returns the staging directory to unpack into.
func (st *Staging) Dir() string { return st.dir }

// Discard removes the staging directory, and .ferry-staging if it is then
// empty.
func (st *Staging) Discard() error {
	if err := os.RemoveAll(st.dir); err != nil {
		return fmt.Errorf("discarding staging directory: %w", err)
	}
	_ = os.Remove(filepath.Dir(st.dir)) // fails while other staging directories exist
	return nil
}

// rel is the staging directory relative to the destination.
func (st *Staging) rel() string { return stagingDirName + "/" + st.id }

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
	for _, p := range j.parts() {
		if p.Staging != "" {
			if err := cleanStaging(p.Dir, p.Staging); err != nil {
				return err
			}
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
		if err := syncRootDir(root, filepath.FromSlash(d)); err != nil {
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
		if err := syncRootDir(root, filepath.FromSlash(k.dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// cleanStaging removes dir/rel (a staging directory, or all of
// .ferry-staging when rel is stagingDirName) and .ferry-staging itself when
// empty.
func cleanStaging(dir, rel string) error {
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
	if err := root.RemoveAll(filepath.FromSlash(rel)); err != nil {
		return fmt.Errorf("removing staging directory: %w", err)
	}
	if err := root.Remove(stagingDirName); err != nil && !errors.Is(err, fs.ErrNotExist) {
		if fi, lerr := root.Lstat(stagingDirName); lerr == nil && fi.IsDir() {
			return nil // other staging directories remain
		}
		return fmt.Errorf("removing staging directory: %w", err)
	}
	return nil
}

// Recover finishes or undoes whatever an interrupted operation left behind.
// Call it right after Lock, before staging anything: it deletes every
// staging directory it finds, including those of work in progress. (Store
// commits roll journals forward themselves, but leave staging alone.)
//
// Every journal in <stateDir>/journal is rolled forward (renames whose
// staged file is gone were already done; then the state is written, old
// files removed, staging and journal deleted). Then every .ferry-staging
// directory in the recorded destination directories and in dirs is
// removed: without a journal, staged files were never committed and the
// previous version is intact. Leftover temporary files in stateDir go too.
func Recover(stateDir string, dirs ...string) error {
	return recoverState(stateDir, dirs, nil)
}

func recoverState(stateDir string, dirs []string, crash func(string) bool) error {
	_, err := recoverLoad(stateDir, dirs, crash)
	return err
}

// recoverLoad is recoverState returning the state it read, which is the
// state on disk once recovered (cleaning staging changes no record).
func recoverLoad(stateDir string, dirs []string, crash func(string) bool) (*State, error) {
	if err := recoverJournals(stateDir, crash); err != nil {
		return nil, err
	}
	state, err := LoadState(stateDir)
	if err != nil {
		return nil, err
	}
	all := make(map[string]bool)
	for _, r := range state.Artifacts {
		all[r.Dir] = true
	}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("recovering: %w", err)
		}
		all[abs] = true
	}
	for _, d := range sortedKeys(all) {
		if err := cleanStaging(d, stagingDirName); err != nil {
			return nil, fmt.Errorf("recovering %s: %w", d, err)
		}
	}
	return state, nil
}

func recoverJournals(stateDir string, crash func(string) bool) error {
	if err := removeTemps(stateDir); err != nil {
		return fmt.Errorf("recovering: %w", err)
	}
	jdir := filepath.Join(stateDir, journalDirName)
	if err := removeTemps(jdir); err != nil {
		return fmt.Errorf("recovering: %w", err)
	}
	entries, err := os.ReadDir(jdir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("recovering: %w", err)
	}
	for _, e := range entries { // ReadDir sorts by name: ids are time-ordered
		if !strings.HasSuffix(e.Name(), ".json") || isTemp(e.Name()) {
			continue
		}
		p := filepath.Join(jdir, e.Name())
		j, err := readJournal(p)
		if err != nil {
			return fmt.Errorf("recovering: %w", err)
		}
		if err := apply(stateDir, j, crash); err != nil {
			return fmt.Errorf("recovering %s: %w", p, err)
		}
	}
	return nil
}

func removeTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if isTemp(e.Name()) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
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
