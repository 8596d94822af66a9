package yamlerr

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		doc, problem string
		line         int
	}{
		// A parser error: yaml.v3 says line 2, the sequence opens on line 3.
		{"a:\n  b: x\n  c: [unclosed\n", "did not find expected ',' or ']'", 3},
		// A scanner error: yaml.v3's line is right.
		{"a:\n  b: c: d\n", "mapping values are not allowed in this context", 2},
	} {
		var n yaml.Node
		err := yaml.Unmarshal([]byte(c.doc), &n)
		if err == nil {
			t.Fatalf("%q parsed", c.doc)
		}
		if line, problem := Split(err); line != c.line || problem != c.problem {
			t.Errorf("%q: line %d %q, want line %d %q (from %v)", c.doc, line, problem, c.line, c.problem, err)
		}
	}
	var v struct{ A []string }
	err := yaml.Unmarshal([]byte("x: 1\na: hello\n"), &v)
	if line, problem := Split(err); line != 2 || problem != "cannot unmarshal !!str `hello` into []string" {
		t.Errorf("type error: line %d %q (from %v)", line, problem, err)
	}
}
