package mirror

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSums(t *testing.T) {
	a, b := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	got, err := ParseSums([]byte("# comment\n" + a + "  rules-1.0.0.tar.gz\n\n" + b + " *sub/rules-1.1.0.tar.gz\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"rules-1.0.0.tar.gz": "sha256:" + a, "rules-1.1.0.tar.gz": "sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
	for _, bad := range []string{"nothex  file\n", a + "\n", "abc  file\n"} {
		if _, err := ParseSums([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestHrefs(t *testing.T) {
	page := `<html><body><h1>Index of /rules/</h1><pre>
<a href="../">../</a>
<a href="falco-rules-3.0.0.tar.gz">falco-rules-3.0.0.tar.gz</a>   12-Jan-2024 10:00  1234
<a href="/rules/falco-rules-3.0.1.tar.gz?download=1">x</a>
<a href="https://cdn.example/rules/falco-rules-3.1.0%2Bbuild.tar.gz">y</a>
<a href="sub/">sub/</a><a name="anchor">no href</a>
</pre></body></html>`
	want := []string{"falco-rules-3.0.0.tar.gz", "falco-rules-3.0.1.tar.gz", "falco-rules-3.1.0+build.tar.gz"}
	if d := cmp.Diff(want, hrefs([]byte(page))); d != "" {
		t.Error(d)
	}
}
