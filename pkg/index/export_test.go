package index

// SetChunkMin sets the size from which Parse reads entry by entry, and
// returns a function restoring it.
func SetChunkMin(n int) (restore func()) {
	old := chunkMin
	chunkMin = n
	return func() { chunkMin = old }
}

// ParseChunked is parseChunked: whether a document is read entry by entry.
func ParseChunked(name string, data []byte) bool {
	_, ok := parseChunked(name, data)
	return ok
}
