// Package indexgen writes large synthetic indexes in falcoctl's format, for
// benchmarks: entries of every type, with the metadata real entries carry.
package indexgen

import (
	"fmt"
	"io"
)

var types = []string{"plugin", "rulesfile", "asset"}

// Name is the name of entry i of a generated index.
func Name(i int) string { return fmt.Sprintf("%s-%06d", types[i%len(types)], i) }

// Write writes an index of n entries at registry to w. With n = 93,000 it
// is about 31 MB, the size issue 17 measures.
func Write(w io.Writer, n int, registry string) error {
	for i := range n {
		typ, name := types[i%len(types)], Name(i)
		_, err := fmt.Fprintf(w, `- name: %[1]s
  type: %[2]s
  registry: %[3]s
  repository: bench/%[2]ss/%[1]s
  description: Generated %[2]s number %[4]d, for a big-index bench
  home: https://github.com/bench/%[2]ss/tree/main/%[1]s
  keywords:
    - bench
    - %[2]s
  license: Apache-2.0
  maintainers:
    - name: Bench Authors
`, name, typ, registry, i)
		if err != nil {
			return err
		}
	}
	return nil
}
