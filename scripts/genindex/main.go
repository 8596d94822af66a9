// Command genindex writes a large synthetic index (falcoctl's format) to
// stdout, for scripts/bench-bigindex.
//
//	go run ./scripts/genindex -n 93000 -registry 127.0.0.1:5000 >big.yaml
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/ferryhq/ferry/internal/indexgen"
)

func main() {
	n := flag.Int("n", 93000, "number of entries")
	registry := flag.String("registry", "ghcr.io", "registry of every entry")
	flag.Parse()
	w := bufio.NewWriter(os.Stdout)
	err := indexgen.Write(w, *n, *registry)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genindex:", err)
		os.Exit(1)
	}
}
