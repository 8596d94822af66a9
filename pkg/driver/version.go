package driver

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DetectVersion returns the highest driver version whose sources are
// installed as <root>/usr/src/<name>-<version> (where Falco's packages and
// images put them, as falcoctl reads them) under any of roots, or "".
func DetectVersion(name string, roots ...string) string {
	best := ""
	for _, root := range roots {
		matches, _ := filepath.Glob(filepath.Join(root, "usr", "src", name+"-*"))
		for _, m := range matches {
			if fi, err := os.Stat(m); err != nil || !fi.IsDir() {
				continue
			}
			v := strings.TrimPrefix(filepath.Base(m), name+"-")
			if v != "" && (best == "" || compareVersions(v, best) > 0) {
				best = v
			}
		}
	}
	return best
}

// compareVersions orders versions by their leading numeric dot-separated
// fields (8.0.0+driver < 8.1.0+driver < 10.0.0+driver), then as strings.
func compareVersions(a, b string) int {
	na, nb := versionFields(a), versionFields(b)
	for i := 0; i < len(na) || i < len(nb); i++ {
		var x, y int
		if i < len(na) {
			x = na[i]
		}
		if i < len(nb) {
			y = nb[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(a, b)
}

func versionFields(v string) []int {
	core, _, _ := strings.Cut(v, "+")
	core, _, _ = strings.Cut(core, "-")
	var out []int
	for _, f := range strings.Split(core, ".") {
		n, err := strconv.Atoi(f)
		if err != nil {
			break
		}
		out = append(out, n)
	}
	return out
}
