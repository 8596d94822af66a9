package index

import (
	"cmp"
	"slices"
)

// Listing is what List returns, read on demand: each call of Each walks the
// entries again in List's order, and an index opened from its compact form
// is read once and never decoded into memory as a whole. A listing of a big
// index can so be printed in two passes (column widths, then rows) holding
// little more than the file's records.
type Listing struct {
	parts []listPart
	typ   string
}

// listPart is one index of a listing: the records of its compact form, or
// its in-memory entries in name order.
type listPart struct {
	idx     *Index
	c       *compact
	recs    string
	entries []Entry
}

// Listing returns the entries List(typ, indexName) would, to walk with Each.
func (s *Set) Listing(typ, indexName string) *Listing {
	l := &Listing{typ: typ}
	for _, idx := range s.indexes {
		if indexName != "" && idx.Name != indexName {
			continue
		}
		p := listPart{idx: idx}
		if c := idx.compactStore(); c != nil {
			if recs, err := c.records(); err == nil {
				p.c, p.recs = c, recs
			} else {
				idx.fallBack(c)
			}
		}
		if p.c == nil {
			idx.each(func(e Entry) bool { p.entries = append(p.entries, e); return true })
			slices.SortStableFunc(p.entries, func(a, b Entry) int { return cmp.Compare(a.Name, b.Name) })
		}
		l.parts = append(l.parts, p)
	}
	return l
}

func (p *listPart) len() int {
	if p.c != nil {
		return p.c.count
	}
	return len(p.entries)
}

func (p *listPart) name(i int) string {
	if p.c != nil {
		return p.c.name(i)
	}
	return p.entries[i].Name
}

func (p *listPart) entry(i int) (Entry, bool) {
	if p.c != nil {
		e, err := p.c.at(p.recs, i)
		return e, err == nil
	}
	return p.entries[i], true
}

// Each calls fn for every entry of the listing, sorted by name, then by
// index order, until fn returns false.
func (l *Listing) Each(fn func(Found) bool) {
	next := make([]int, len(l.parts))
	for {
		best := -1
		for k := range l.parts {
			if next[k] < l.parts[k].len() && (best < 0 || l.parts[k].name(next[k]) < l.parts[best].name(next[best])) {
				best = k
			}
		}
		if best < 0 {
			return
		}
		p := &l.parts[best]
		e, ok := p.entry(next[best])
		next[best]++
		if ok && (l.typ == "" || e.Type == l.typ) && !fn(Found{Entry: e, Index: p.idx.Name}) {
			return
		}
	}
}

// Len returns the number of entries Each walks.
func (l *Listing) Len() int {
	if l.typ == "" {
		n := 0
		for k := range l.parts {
			n += l.parts[k].len()
		}
		return n
	}
	n := 0
	l.Each(func(Found) bool { n++; return true })
	return n
}
