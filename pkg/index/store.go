package index

import (
	"os"
	"strings"
)

// An Index holds its entries in Entries, or, when LoadCached opened its
// compact form, reads them from that file on demand. These methods serve
// both; the Set uses nothing else.

// Len returns the number of entries (of distinct names).
func (idx *Index) Len() int {
	if c := idx.compactStore(); c != nil {
		return c.count
	}
	return len(idx.memIndex())
}

// compactStore returns the compact file the index reads from, or nil.
func (idx *Index) compactStore() *compact {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	return idx.store
}

// memIndex returns, building it on first use, the name -> position table
// of Entries (the first of several entries with one name).
func (idx *Index) memIndex() map[string]int {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if idx.byName == nil {
		idx.byName = make(map[string]int, len(idx.Entries))
		for i, e := range idx.Entries {
			if _, dup := idx.byName[e.Name]; !dup {
				idx.byName[e.Name] = i
			}
		}
	}
	return idx.byName
}

// fallBack replaces a compact file that failed a check after it was opened
// with the YAML it was built from, parsed (and the file rewritten). If the
// YAML no longer parses either, the index is left empty.
func (idx *Index) fallBack(c *compact) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if idx.store != c {
		return
	}
	idx.store, idx.byName, idx.Entries = nil, nil, nil
	data, err := os.ReadFile(c.yamlPath)
	if err != nil {
		return
	}
	parsed, err := Parse(idx.Name, data)
	if err != nil {
		return
	}
	idx.Entries = parsed.Entries
	if fi, err := os.Stat(c.yamlPath); err == nil && fi.Size() == int64(len(data)) {
		_ = SaveCompact(parsed, c.yamlPath, fi)
	}
}

// lookup returns the entry named name.
func (idx *Index) lookup(name string) (Entry, bool) {
	if c := idx.compactStore(); c != nil {
		e, ok, err := c.lookup(name)
		if err == nil {
			return e, ok
		}
		idx.fallBack(c)
	}
	if i, ok := idx.memIndex()[name]; ok {
		return idx.Entries[i], true
	}
	return Entry{}, false
}

// each calls fn for every entry (the first of several with one name) until
// fn returns false: in name order from a compact file, else in file order.
func (idx *Index) each(fn func(Entry) bool) {
	if c := idx.compactStore(); c != nil {
		if err := c.each(fn); err == nil {
			return
		}
		// A listing cut short by a corrupt record starts again from the
		// YAML; fn sees the entries before it twice only if it kept going.
		idx.fallBack(c)
	}
	m := idx.memIndex()
	for i, e := range idx.Entries {
		if m[e.Name] == i && !fn(e) {
			return
		}
	}
}

// withPrefix calls fn for every entry whose name starts with p until fn
// returns false.
func (idx *Index) withPrefix(p string, fn func(Entry) bool) {
	if c := idx.compactStore(); c != nil {
		if err := c.prefix(p, fn); err == nil {
			return
		}
		idx.fallBack(c)
	}
	idx.each(func(e Entry) bool { return !strings.HasPrefix(e.Name, p) || fn(e) })
}

// has reports whether the index has an entry named name, reading none.
func (idx *Index) has(name string) bool {
	if c := idx.compactStore(); c != nil {
		i := c.search(name)
		return i < c.count && c.name(i) == name
	}
	_, ok := idx.memIndex()[name]
	return ok
}

// names returns the names of the entries.
func (idx *Index) names() []string {
	if c := idx.compactStore(); c != nil {
		return c.allNames()
	}
	m := idx.memIndex()
	out := make([]string, 0, len(m))
	for name := range m {
		out = append(out, name)
	}
	return out
}
