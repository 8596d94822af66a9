package mirror

import (
	"strings"
	"testing"
)

// FuzzMirrorListing feeds hostile SHA256SUMS files and directory pages to
// the parsers of an HTTP mirror's listing: no panic, and every name they
// return is one path element with a well-formed digest.
func FuzzMirrorListing(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  rules-1.0.0.tar.gz\n# comment\n"))
	f.Add([]byte(`<html><a href="rules-1.0.0.tar.gz">x</a><a href="../">up</a><a href="/abs/rules-2.0.0.tar.gz?x=1#f">y</a><a href="%2e%2e/x">z</a></html>`))
	f.Add([]byte("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef *dir/../rules-1.0.0.tar.gz"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if sums, err := ParseSums(data); err == nil {
			for name, d := range sums {
				if strings.Contains(name, "/") || name == "" {
					t.Fatalf("SHA256SUMS name %q", name)
				}
				if len(d) != len("sha256:")+64 || !strings.HasPrefix(d, "sha256:") {
					t.Fatalf("SHA256SUMS digest %q", d)
				}
			}
		}
		for _, name := range hrefs(data) {
			if strings.Contains(name, "/") || name == "" {
				t.Fatalf("listing name %q", name)
			}
		}
		pat, err := ParsePattern("https://mirror.example/rules-{version}.tar.gz")
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := pat.Version(string(data)); ok && strings.Contains(v, "/") {
			t.Fatalf("version %q from %q", v, data)
		}
	})
}
