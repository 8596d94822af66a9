package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferryhq/ferry/internal/fsutil"
)

// Store installs and removes artifacts, recording them in
// <StateDir>/state.json. Its methods must be called with Lock(StateDir)
// held, after Recover. Within one process they may run concurrently: the
// unpacking runs in parallel, and the commits (which read, change and write
// the state) are serialised by the Store; they first roll forward any
// journal left by a crash. Use one Store per state directory.
type Store struct {
	StateDir string
	Limits   Limits // zero fields mean DefaultLimits

	mu sync.Mutex // serialises commits and removals

	// crashAt, when set by tests, is asked at each step of a commit and
	// of recovery; returning true stops the operation right there with
	// errCrashed, leaving the disk as a killed process would.
	crashAt func(step string) bool
}

func (s *Store) crashed(step string) bool { return s.crashAt != nil && s.crashAt(step) }

// Install unpacks layer (a gzip-compressed tar stream) into a staging
// directory beside rec.Dir, calls verify (if not nil) once the stream has
// been read to its end, and then commits rec with Files filled in (see
// Commit): the new files replace the old version's atomically (file by
// file, journaled), files of the old version that the new one lacks are
// removed, and files another record owned are taken over. If unpacking or
// verify fails, nothing is changed and the staging directory is removed.
//
// rec.Key and rec.Dir are required; rec.Dir is made absolute and
// rec.InstalledAt defaults to now. Cancelling ctx stops the unpacking; once
// the journal is written the commit runs to the end.
func (s *Store) Install(ctx context.Context, rec Record, layer io.Reader, verify func() error) (Record, error) {
	if rec.Key == "" {
		return Record{}, errors.New("installing: record without a key")
	}
	if rec.Dir == "" {
		return Record{}, fmt.Errorf("installing %s: record without a directory", rec.Key)
	}
	dir, err := filepath.Abs(rec.Dir)
	if err != nil {
		return Record{}, fmt.Errorf("installing %s: %w", rec.Key, err)
	}
	rec.Dir = dir
	st, err := Stage(dir)
	if err != nil {
		return Record{}, fmt.Errorf("installing %s: %w", rec.Key, err)
	}
	lim := s.Limits.withDefaults()
	if _, err := Unpack(ctx, layer, st.Dir(), lim); err != nil {
		_ = st.Discard()
		if verify != nil && errors.Is(err, ErrCorruptArchive) {
			// A corrupt stream is usually a damaged download: if the
			// digest says so, that is the better diagnosis.
			_, _ = io.Copy(io.Discard, io.LimitReader(layer, lim.MaxBytes))
			if verr := verify(); verr != nil {
				return Record{}, fmt.Errorf("verifying %s: %w (unpacking: %w)", rec.Key, verr, err)
			}
		}
		return Record{}, fmt.Errorf("unpacking %s: %w", rec.Key, err)
	}
	if s.crashed("unpacked") {
		return Record{}, errCrashed
	}
	if verify != nil {
		if err := verify(); err != nil {
			_ = st.Discard()
			return Record{}, fmt.Errorf("verifying %s: %w", rec.Key, err)
		}
	}
	return s.Commit(ctx, st, rec)
}

// Commit makes the content of st the installed version of rec: rec.Dir
// becomes st's destination and rec.Files what st contains. Install calls
// it; it is exported for callers that fill a Staging themselves. If Commit
// fails before its journal is written, st is discarded and nothing changed;
// after, the next Recover completes the commit. st must not be reused.
func (s *Store) Commit(ctx context.Context, st *Staging, rec Record) (Record, error) {
	recs, errs := s.CommitAll(ctx, []Staged{{Staging: st, Record: rec}})
	return recs[0], errs[0]
}

// Staged is a filled staging directory and the record it is to become.
type Staged struct {
	Staging *Staging
	Record  Record
}

// CommitAll commits every item at once, as Commit commits one: one
// journal and one write of the state for the whole set, so that the
// fsyncs a commit costs are paid once rather than once per artifact (every
// staged file is still fsynced before the journal is written, every swap
// is still a rename). After a crash the next Recover completes all of them
// or, if the journal was not written, none. An item the plan refuses (a
// collision, a key given twice) gets its error in errs and is discarded;
// the others still commit. Records and errors are in the order of items.
// Items must have distinct staging directories, none reused afterwards.
func (s *Store) CommitAll(ctx context.Context, items []Staged) ([]Record, []error) {
	recs, errs, _ := s.commitAllFrom(ctx, nil, items)
	return recs, errs
}

// commitAllFrom is CommitAll starting from state, the state on disk (nil:
// read it), for a caller that holds the lock and has read it already. It
// also returns the state on disk afterwards, or nil when a commit that
// failed leaves it unknown.
func (s *Store) commitAllFrom(ctx context.Context, state *State, items []Staged) ([]Record, []error, *State) {
	recs := make([]Record, len(items))
	errs := make([]error, len(items))
	journaled, next, err := s.commitAll(ctx, state, items, recs, errs)
	for i, it := range items {
		switch {
		case errs[i] != nil: // refused on its own: not in the journal
			recs[i] = Record{}
			_ = it.Staging.Discard()
		case err != nil:
			recs[i], errs[i] = Record{}, err
			if !journaled && !errors.Is(err, errCrashed) {
				_ = it.Staging.Discard()
			}
		}
	}
	if err != nil {
		next = nil
	}
	return recs, errs, next
}

// commitAll fills recs and the per-item refusals in errs, and returns the
// error that stops the whole commit, if any, whether the journal was
// written (then the next Recover completes the commit whatever happens),
// and the state on disk after the commit. It starts from state, the state
// on disk, or reads it when state is nil.
func (s *Store) commitAll(ctx context.Context, state *State, items []Staged, recs []Record, errs []error) (bool, *State, error) {
	if err := ctx.Err(); err != nil {
		keys := make([]string, len(items))
		for i, it := range items {
			keys[i] = it.Record.Key
		}
		return false, nil, fmt.Errorf("committing %s: %w", strings.Join(keys, " "), err)
	}
	files, err := syncStaged(items, errs)
	if err != nil {
		return false, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The state read below must include any interrupted commit.
	if err := recoverJournals(s.StateDir, nil); err != nil {
		return false, nil, err
	}
	if state == nil {
		if state, err = LoadState(s.StateDir); err != nil {
			return false, nil, err
		}
	}
	cp := s.planAll(state, items, files, recs, errs)
	if len(cp.parts) == 0 {
		return false, state, nil
	}
	if s.crashed("planned") {
		return false, nil, errCrashed
	}
	if err := ctx.Err(); err != nil { // the last point where cancelling changes nothing
		return false, nil, fmt.Errorf("committing %s: %w", strings.Join(cp.keys, " "), err)
	}
	j, err := cp.newJournal()
	if err != nil {
		return false, nil, err
	}
	journaled, err := s.writeAndApply(j)
	if err != nil {
		return journaled, nil, err
	}
	return true, cp.next, nil
}

// syncStaged lists and fsyncs every staging directory of items, outside
// the lock and in parallel, then the entries of .ferry-staging and of each
// destination, once per destination, so that Recover finds the staged
// files. It returns each item's files; an item that fails gets its error
// in errs.
func syncStaged(items []Staged, errs []error) ([][]File, error) {
	var wg sync.WaitGroup
	files := make([][]File, len(items))
	for i, it := range items {
		if it.Record.Key == "" {
			errs[i] = errors.New("committing: record without a key")
			continue
		}
		wg.Go(func() {
			var err error
			if files[i], err = scanStaged(it.Staging); err != nil {
				errs[i] = fmt.Errorf("committing %s: %w", it.Record.Key, err)
			}
		})
	}
	wg.Wait()
	dests := make(map[string]bool)
	for i, it := range items {
		if errs[i] == nil {
			dests[it.Staging.dest] = true
		}
	}
	for _, d := range sortedKeys(dests) {
		if err := fsutil.SyncDir(filepath.Join(d, stagingDirName)); err != nil {
			return nil, fmt.Errorf("committing: %w", err)
		}
		if err := fsutil.SyncDir(d); err != nil {
			return nil, fmt.Errorf("committing: %w", err)
		}
	}
	return files, nil
}

// commitPlan is what one commit of several artifacts changes: the journal
// part of each, the state after all of them, and the previous versions'
// files to remove.
type commitPlan struct {
	parts    []journalPart
	keys     []string
	next     *State
	removals []removal
}

// planAll plans the commit of every item that has no error yet, against
// state, each after the ones before it: an item the plan refuses gets its
// error in errs; the others get their final record in recs.
func (s *Store) planAll(state *State, items []Staged, files [][]File, recs []Record, errs []error) commitPlan {
	cp := commitPlan{next: state}
	var olds []Record
	claimed := make(map[string]map[string]bool) // dir -> path -> is a directory
	for i, it := range items {
		if errs[i] != nil {
			continue
		}
		rec := it.Record
		if slices.Contains(cp.keys, rec.Key) {
			errs[i] = fmt.Errorf("committing %s: %w: given twice in one commit", rec.Key, ErrConflict)
			continue
		}
		rec.Dir = it.Staging.dest
		rec.Files = files[i]
		if rec.InstalledAt.IsZero() {
			rec.InstalledAt = time.Now().UTC()
		}
		part, after, old, err := s.plan(cp.next, rec, it.Staging, claimed[rec.Dir])
		if err != nil {
			errs[i] = fmt.Errorf("committing %s: %w", rec.Key, err)
			continue
		}
		if claimed[rec.Dir] == nil {
			claimed[rec.Dir] = make(map[string]bool)
		}
		for _, f := range rec.Files {
			claimed[rec.Dir][f.Path] = f.IsDir()
		}
		cp.next, recs[i] = after, rec
		cp.parts = append(cp.parts, part)
		cp.keys = append(cp.keys, rec.Key)
		if old != nil {
			olds = append(olds, *old)
		}
	}
	// The previous versions' files that no record of the new state lists:
	// computed against the final state, so a file one artifact of the set
	// gives up and another takes over stays.
	for _, old := range olds {
		cp.removals = append(cp.removals, orphans(cp.next, old)...)
	}
	return cp
}

// newJournal is the install journal of the plan. One artifact's journal
// shares its staging directory's id; several get parts and an id of their
// own.
func (cp commitPlan) newJournal() (*journal, error) {
	j := &journal{Op: "install", Removals: cp.removals, State: cp.next}
	if len(cp.parts) == 1 {
		p := cp.parts[0]
		j.ID, j.Key, j.Dir, j.Staging, j.Mkdirs, j.Renames = p.id, p.Key, p.Dir, p.Staging, p.Mkdirs, p.Renames
		return j, nil
	}
	id, err := newID()
	if err != nil {
		return nil, fmt.Errorf("committing: %w", err)
	}
	j.ID, j.Key, j.Parts = id, strings.Join(cp.keys, " "), cp.parts
	return j, nil
}

// writeAndApply writes the journal (the commit point), then applies it;
// it reports whether the journal was written.
func (s *Store) writeAndApply(j *journal) (bool, error) {
	if err := writeJournal(s.StateDir, j, s.crashAt); err != nil {
		return false, fmt.Errorf("committing %s: %w", j.Key, err)
	}
	if s.crashed("journaled") {
		return true, errCrashed
	}
	if err := apply(s.StateDir, j, s.crashAt); err != nil {
		if errors.Is(err, errCrashed) {
			return true, err
		}
		return true, fmt.Errorf("committing %s (the next run completes it): %w", j.Key, err)
	}
	return true, nil
}

// plan computes what makes rec installed on top of state: the new state
// (rec replacing its previous version, other records losing the files rec
// takes over), the renames, and the previous version (nil if none). It
// refuses collisions it could not resolve safely, with the disk and with
// claimed, the paths earlier artifacts of the same commit install in
// rec.Dir (path -> is a directory).
func (s *Store) plan(state *State, rec Record, st *Staging, claimed map[string]bool) (journalPart, *State, *Record, error) {
	stateDir, err := filepath.Abs(s.StateDir)
	if err != nil {
		return journalPart{}, nil, nil, err
	}
	root, err := os.OpenRoot(rec.Dir)
	if err != nil {
		return journalPart{}, nil, nil, err
	}
	defer root.Close()
	newPaths := make(map[string]bool, len(rec.Files))
	var mkdirs, renames []string
	for _, f := range rec.Files {
		if first, _, _ := strings.Cut(f.Path, "/"); first == stagingDirName {
			return journalPart{}, nil, nil, &UnsafeArchiveError{Entry: f.Path, Reason: "reserved name " + stagingDirName}
		}
		target := filepath.Join(rec.Dir, filepath.FromSlash(f.Path))
		if within(stateDir, target) {
			return journalPart{}, nil, nil, fmt.Errorf("%w: %s is inside the state directory %s", ErrConflict, target, stateDir)
		}
		if isDir, ok := claimed[f.Path]; ok && isDir != f.IsDir() {
			return journalPart{}, nil, nil, fmt.Errorf("%w: %s is both a file and a directory of this install", ErrConflict, target)
		}
		name := filepath.FromSlash(f.Path)
		if f.IsDir() {
			fi, err := root.Stat(name)
			if err == nil && !fi.IsDir() {
				return journalPart{}, nil, nil, fmt.Errorf("%w: %s exists and is not a directory", ErrConflict, target)
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return journalPart{}, nil, nil, fmt.Errorf("%w: %s: %w", ErrConflict, target, err)
			}
			mkdirs = append(mkdirs, f.Path)
		} else {
			fi, err := root.Lstat(name)
			if err == nil && fi.IsDir() {
				return journalPart{}, nil, nil, fmt.Errorf("%w: %s exists and is a directory", ErrConflict, target)
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return journalPart{}, nil, nil, fmt.Errorf("%w: %s: %w", ErrConflict, target, err)
			}
			renames = append(renames, f.Path)
		}
		newPaths[f.Path] = true
	}

	next := state.clone()
	var old *Record
	for i := range next.Artifacts {
		o := &next.Artifacts[i]
		if o.Key == rec.Key {
			prev := *o
			old = &prev
			continue
		}
		if o.Dir == rec.Dir { // rec takes over the files it overwrites
			o.Files = slices.DeleteFunc(o.Files, func(f File) bool { return !f.IsDir() && newPaths[f.Path] })
		}
	}
	next.put(rec)
	part := journalPart{Key: rec.Key, Dir: rec.Dir, Staging: st.rel(), Mkdirs: mkdirs, Renames: renames, id: st.id}
	return part, next, old, nil
}

// orphans lists the files and directories of old that no record of next
// lists.
func orphans(next *State, old Record) []removal {
	owned := make(map[string]bool)
	for _, r := range next.Artifacts {
		if r.Dir != old.Dir {
			continue
		}
		for _, f := range r.Files {
			owned[f.Path] = true
		}
	}
	var out []removal
	for _, f := range old.Files {
		if !owned[f.Path] {
			out = append(out, removal{Dir: old.Dir, Path: f.Path, IsDir: f.IsDir()})
		}
	}
	return out
}

// within reports whether p is dir or inside it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// Remove uninstalls key: its files are deleted (directories only if empty
// and not listed by another record) and its record dropped, journaled like
// Install. It returns an error matching ErrNotInstalled if there is no
// such record.
func (s *Store) Remove(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := recoverJournals(s.StateDir, nil); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("removing %s: %w", key, err)
	}
	state, err := LoadState(s.StateDir)
	if err != nil {
		return err
	}
	rec, ok := state.Get(key)
	if !ok {
		return fmt.Errorf("removing %s: %w", key, ErrNotInstalled)
	}
	id, err := newID()
	if err != nil {
		return fmt.Errorf("removing %s: %w", key, err)
	}
	next := state.clone()
	next.delete(key)
	j := &journal{ID: id, Op: "remove", Key: key, Removals: orphans(next, rec), State: next}
	if err := writeJournal(s.StateDir, j, s.crashAt); err != nil {
		return fmt.Errorf("removing %s: %w", key, err)
	}
	if s.crashed("journaled") {
		return errCrashed
	}
	if err := apply(s.StateDir, j, s.crashAt); err != nil {
		if errors.Is(err, errCrashed) {
			return err
		}
		return fmt.Errorf("removing %s (the next run completes it): %w", key, err)
	}
	return nil
}
