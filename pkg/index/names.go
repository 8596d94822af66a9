package index

// ValidName reports whether name is a valid artifact or index name.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// Indexes returns the indexes of the set, in priority order.
func (s *Set) Indexes() []*Index { return append([]*Index(nil), s.indexes...) }

// Has reports whether the set holds an index named name.
func (s *Set) Has(name string) bool { return s.find(name) >= 0 }
