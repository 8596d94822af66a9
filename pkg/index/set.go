package index

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/pkg/errdef"
)

// ErrNotFound is matched (with errors.Is) by every *NotFoundError.
var ErrNotFound = errdef.New(errdef.ErrNotFound, "not found")

// ErrAmbiguous is matched (with errors.Is) by every *AmbiguousError.
var ErrAmbiguous = errdef.New(errdef.ErrInvalid, "ambiguous artifact name")

// NotFoundError reports an artifact (or, with Name empty, an index) that no
// index has. Suggestions holds up to three close names.
type NotFoundError struct {
	Index       string
	Name        string
	Suggestions []string
}

func (e *NotFoundError) Error() string {
	var msg string
	switch {
	case e.Name == "":
		msg = fmt.Sprintf("index %q not found", e.Index)
	case e.Index != "":
		msg = fmt.Sprintf("artifact %q not found in index %q", e.Name, e.Index)
	default:
		msg = fmt.Sprintf("artifact %q not found in any index", e.Name)
	}
	if len(e.Suggestions) > 0 {
		msg += "; did you mean " + strings.Join(e.Suggestions, ", ") + "?"
	}
	return msg
}

// Is reports whether target is ErrNotFound or its kind (errdef).
func (e *NotFoundError) Is(target error) bool { return errors.Is(ErrNotFound, target) }

// AmbiguousError reports a name that several indexes give at different
// places. Places, when set, holds each index's REGISTRY/REPOSITORY.
type AmbiguousError struct {
	Name    string
	Indexes []string
	Places  []string
}

func (e *AmbiguousError) Error() string {
	refs := make([]string, len(e.Indexes))
	for i, idx := range e.Indexes {
		refs[i] = idx + "/" + e.Name
		if i < len(e.Places) {
			refs[i] += " (" + e.Places[i] + ")"
		}
	}
	return fmt.Sprintf("artifact %q is in several indexes; name one of: %s", e.Name, strings.Join(refs, ", "))
}

// Is reports whether target is ErrAmbiguous or its kind (errdef).
func (e *AmbiguousError) Is(target error) bool { return errors.Is(ErrAmbiguous, target) }

// Found is an entry together with the name of the index it came from.
type Found struct {
	Entry
	Index string
}

// Set is an ordered collection of indexes. Earlier indexes come first in
// listings. A bare name resolves in the indexes that are not a Fallback
// when any of them has it, else in the fallback ones; several indexes giving
// it at one registry and repository are one artifact, at different places
// an *AmbiguousError: a lookup never picks one place over another silently.
type Set struct {
	indexes []*Index
}

// NewSet returns a set of the given indexes, in that order. Nil indexes are
// skipped; of several indexes with one name, the first is kept.
func NewSet(indexes ...*Index) *Set {
	s := &Set{}
	for _, idx := range indexes {
		if idx == nil || s.find(idx.Name) >= 0 {
			continue
		}
		s.indexes = append(s.indexes, idx)
	}
	return s
}

func (s *Set) find(indexName string) int {
	return slices.IndexFunc(s.indexes, func(idx *Index) bool { return idx.Name == indexName })
}

func (s *Set) entry(i int, name string) (Entry, bool) {
	return s.indexes[i].lookup(name)
}

// Lookup finds name. With indexName set it looks only in that index;
// otherwise the name must be in exactly one index, else it returns an
// *AmbiguousError. A missing index or name gives a *NotFoundError. The second
// result is the name of the index the entry came from.
func (s *Set) Lookup(indexName, name string) (Entry, string, error) {
	if indexName != "" {
		i := s.find(indexName)
		if i < 0 {
			var names []string
			for _, idx := range s.indexes {
				names = append(names, idx.Name)
			}
			return Entry{}, "", &NotFoundError{Index: indexName, Suggestions: suggest(indexName, names)}
		}
		if e, ok := s.entry(i, name); ok {
			return e, indexName, nil
		}
		return Entry{}, "", &NotFoundError{Index: indexName, Name: name, Suggestions: suggest(name, s.names(i))}
	}
	found, err := s.resolve(name)
	if err != nil {
		return Entry{}, "", err
	}
	if len(found) == 0 {
		return Entry{}, "", &NotFoundError{Name: name, Suggestions: suggest(name, s.names(-1))}
	}
	return found[0].Entry, found[0].Index, nil
}

// resolve returns the entries a bare name stands for: those of the first
// tier (indexes that are not a Fallback, then the fallback ones) that has
// the name, in set order. It is an *AmbiguousError when they are not all at
// one registry and repository.
func (s *Set) resolve(name string) ([]Found, error) {
	for _, fallback := range []bool{false, true} {
		var found []Found
		for i, idx := range s.indexes {
			if idx.Fallback != fallback {
				continue
			}
			if e, ok := s.entry(i, name); ok {
				found = append(found, Found{Entry: e, Index: idx.Name})
			}
		}
		if len(found) == 0 {
			continue
		}
		for _, f := range found[1:] {
			if !samePlace(f.Entry, found[0].Entry) {
				ae := &AmbiguousError{Name: name}
				for _, f := range found {
					ae.Indexes = append(ae.Indexes, f.Index)
					ae.Places = append(ae.Places, f.Registry+"/"+f.Repository)
				}
				return nil, ae
			}
		}
		return found, nil
	}
	return nil, nil
}

// samePlace reports whether a and b name one repository of one registry
// (host names compare case-insensitively).
func samePlace(a, b Entry) bool {
	return strings.EqualFold(a.Registry, b.Registry) && a.Repository == b.Repository
}

// LookupDependency finds the artifact name required by an artifact of index
// fromIndex: first in fromIndex, then in the other indexes in order, the
// fallback ones last.
func (s *Set) LookupDependency(fromIndex, name string) (Entry, string, error) {
	if i := s.find(fromIndex); i >= 0 {
		if e, ok := s.entry(i, name); ok {
			return e, fromIndex, nil
		}
	}
	for _, fallback := range []bool{false, true} {
		for i, idx := range s.indexes {
			if idx.Fallback != fallback {
				continue
			}
			if e, ok := s.entry(i, name); ok {
				return e, idx.Name, nil
			}
		}
	}
	return Entry{}, "", &NotFoundError{Name: name, Suggestions: suggest(name, s.names(-1))}
}

// List returns the entries of type typ (all types if empty) in index
// indexName (all indexes if empty), sorted by name, then by index order.
func (s *Set) List(typ, indexName string) []Found {
	l := s.Listing(typ, indexName)
	out := make([]Found, 0, l.Len())
	l.Each(func(f Found) bool { out = append(out, f); return true })
	return out
}

// DefaultMinScore is the name similarity from which a keyword matches an
// artifact's name, as falcoctl's `artifact search --min-score` default.
const DefaultMinScore = 0.65

// Hit is an entry a search found, with its score: the best similarity of
// its name to any keyword, in [0, 1] (see [NameScore]).
type Hit struct {
	Found
	Score float64
}

// Search returns the entries of type typ (all if empty) that any keyword
// matches: the keyword's [NameScore] against the entry's name is at least
// minScore (so a typo still finds the name), or the keyword appears,
// case-insensitively, in the name, a keyword or the description. The best
// scores come first; then entries more keywords match; then by name and
// index order.
func (s *Set) Search(keywords []string, typ string, minScore float64) []Hit {
	type hit struct {
		Hit
		matched int
	}
	lower := make([]string, len(keywords))
	for i, kw := range keywords {
		lower[i] = strings.ToLower(kw)
	}
	var hits []hit
	s.each(func(f Found) {
		if typ != "" && f.Type != typ {
			return
		}
		h := hit{Hit: Hit{Found: f}}
		name, desc := strings.ToLower(f.Name), strings.ToLower(f.Description)
		for _, kw := range lower {
			score := NameScore(name, kw)
			h.Score = max(h.Score, score)
			if score >= minScore || strings.Contains(name, kw) || strings.Contains(desc, kw) ||
				slices.ContainsFunc(f.Keywords, func(k string) bool { return strings.Contains(strings.ToLower(k), kw) }) {
				h.matched++
			}
		}
		if h.matched > 0 {
			hits = append(hits, h)
		}
	})
	slices.SortStableFunc(hits, func(a, b hit) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(b.matched, a.matched), cmp.Compare(a.Name, b.Name))
	})
	out := make([]Hit, len(hits))
	for i, h := range hits {
		out[i] = h.Hit
	}
	return out
}

// NameScore is how close keyword is to name, as falcoctl measures it: 1
// minus their edit distance (Levenshtein, over bytes, ignoring case)
// divided by the length of the longer one. Equal names score 1;
// "cloudtrailz" against "cloudtrail" scores 10/11.
func NameScore(name, keyword string) float64 {
	longer := max(len(name), len(keyword))
	if longer == 0 {
		return 1
	}
	d := levenshtein(strings.ToLower(name), strings.ToLower(keyword))
	return float64(longer-d) / float64(longer)
}

// Clashes returns the names a bare NAME cannot stand for (the indexes of
// the first tier that has them give them at different places), each with
// those indexes, in set order.
func (s *Set) Clashes() map[string][]string {
	in := map[string][]string{}
	s.each(func(f Found) { in[f.Name] = append(in[f.Name], f.Index) })
	for name, idxs := range in {
		if len(idxs) < 2 {
			delete(in, name)
			continue
		}
		if idxs := s.Ambiguous(name); idxs != nil {
			in[name] = idxs
		} else {
			delete(in, name)
		}
	}
	return in
}

// ListPrefix returns the entries whose name starts with prefix, of index
// indexName (all indexes if empty), sorted by name, then by index order.
// Of an index opened from its compact form it reads only those entries.
func (s *Set) ListPrefix(indexName, prefix string) []Found {
	var out []Found
	for _, idx := range s.indexes {
		if indexName == "" || idx.Name == indexName {
			idx.withPrefix(prefix, func(e Entry) bool {
				out = append(out, Found{Entry: e, Index: idx.Name})
				return true
			})
		}
	}
	slices.SortStableFunc(out, func(a, b Found) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Ambiguous returns, when a bare name cannot stand for one artifact, the
// indexes that give it at different places; else nil.
func (s *Set) Ambiguous(name string) []string {
	if len(s.tier(name)) < 2 {
		return nil
	}
	var ae *AmbiguousError
	if _, err := s.resolve(name); errors.As(err, &ae) {
		return ae.Indexes
	}
	return nil
}

// tier returns the positions of the indexes of the first tier (not a
// Fallback, then the fallback ones) that has name. It reads no entry.
func (s *Set) tier(name string) []int {
	for _, fallback := range []bool{false, true} {
		var in []int
		for i, idx := range s.indexes {
			if idx.Fallback == fallback && idx.has(name) {
				in = append(in, i)
			}
		}
		if len(in) > 0 {
			return in
		}
	}
	return nil
}

// Resolves reports whether the bare name stands for the entry of index
// indexName: whether typing NAME alone reaches that entry.
func (s *Set) Resolves(indexName, name string) bool {
	switch in := s.tier(name); len(in) {
	case 0:
		return false
	case 1:
		return s.indexes[in[0]].Name == indexName
	}
	found, err := s.resolve(name)
	return err == nil && slices.ContainsFunc(found, func(f Found) bool { return f.Index == indexName })
}

// each calls fn for every entry, index by index in set order, skipping
// duplicate names within an index.
func (s *Set) each(fn func(Found)) {
	for _, idx := range s.indexes {
		idx.each(func(e Entry) bool {
			fn(Found{Entry: e, Index: idx.Name})
			return true
		})
	}
}

// names returns the entry names of index i, or of all indexes when i < 0.
func (s *Set) names(i int) []string {
	var out []string
	for k, idx := range s.indexes {
		if i < 0 || i == k {
			out = append(out, idx.names()...)
		}
	}
	return out
}

// suggest returns up to three candidates close to name: those it is a prefix
// of (or that are a prefix of it), or within a small edit distance, closest
// first.
func suggest(name string, candidates []string) []string {
	type scored struct {
		name string
		dist int
	}
	limit := max(2, len(name)/3)
	var near []scored
	seen := map[string]bool{}
	for _, c := range candidates {
		if seen[c] || c == name {
			continue
		}
		seen[c] = true
		d := levenshtein(name, c)
		if strings.HasPrefix(c, name) || strings.HasPrefix(name, c) {
			d = min(d, 1)
		}
		if d <= limit {
			near = append(near, scored{c, d})
		}
	}
	slices.SortFunc(near, func(a, b scored) int { return cmp.Or(cmp.Compare(a.dist, b.dist), cmp.Compare(a.name, b.name)) })
	var out []string
	for _, c := range near[:min(3, len(near))] {
		out = append(out, c.name)
	}
	return out
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
