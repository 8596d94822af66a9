package oci_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/pkg/oci"
)

func TestRulesRequirements(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		deps []oci.Dependency
		reqs []oci.Requirement
		err  bool
	}{
		{name: "none", in: "- rule: a\n  condition: x\n"},
		{name: "empty file", in: ""},
		{
			name: "semver engine and plugins with alternatives",
			in: `- required_engine_version: 0.31.0
- required_plugin_versions:
  - name: k8saudit
    version: 0.7.0
    alternatives:
      - name: k8saudit-eks
        version: 0.4.0
  - name: json
    version: 0.7.0
- rule: r
  condition: evt.type = open
`,
			deps: []oci.Dependency{
				{Name: "k8saudit", Version: "0.7.0", Alternatives: []oci.Alternative{{Name: "k8saudit-eks", Version: "0.4.0"}}},
				{Name: "json", Version: "0.7.0"},
			},
			reqs: []oci.Requirement{{Name: "engine_version_semver", Version: "0.31.0"}},
		},
		{name: "integer engine version", in: "- required_engine_version: 15\n", reqs: []oci.Requirement{{Name: "engine_version", Version: "15"}}},
		{name: "not a list", in: "rule: x\n", err: true},
		{name: "plugin without version", in: "- required_plugin_versions:\n  - name: json\n", err: true},
		{
			name: "comments, a document start, CRLF and an item opened on its own line",
			in:   "# header\n---\n- rule: a\r\n  desc: \"- not an item\"\r\n-\n  required_engine_version: 0.40.0\n# trailing\n",
			reqs: []oci.Requirement{{Name: "engine_version_semver", Version: "0.40.0"}},
		},
		{
			name: "flow style is read whole",
			in:   "[{required_engine_version: 12}, {rule: x}]\n",
			reqs: []oci.Requirement{{Name: "engine_version", Version: "12"}},
		},
		{name: "only the first document counts", in: "- rule: a\n---\n- required_engine_version: 1.0.0\n"},
		{name: "a broken item that is not needed is not parsed", in: "- rule: [oops\n- required_engine_version: 0.31.0\n", reqs: []oci.Requirement{{Name: "engine_version_semver", Version: "0.31.0"}}},
		{name: "a broken item that is needed", in: "- rule: a\n- required_plugin_versions: [oops\n", err: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			deps, reqs, err := oci.RulesRequirements([]byte(c.in))
			if (err != nil) != c.err {
				t.Fatalf("err = %v", err)
			}
			if diff := cmp.Diff(c.deps, deps); diff != "" {
				t.Errorf("deps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.reqs, reqs); diff != "" {
				t.Errorf("reqs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRulesRequirementsLineNumbers: errors name the line in the file, not
// in the item read.
func TestRulesRequirementsLineNumbers(t *testing.T) {
	in := "- rule: a\n  desc: b\n\n- rule: c\n- required_plugin_versions:\n  - name: json\n"
	_, _, err := oci.RulesRequirements([]byte(in))
	if err == nil || !strings.Contains(err.Error(), "line 5") {
		t.Fatalf("err = %v, want line 5", err)
	}
}

// TestRulesRequirementsBounded: a stream that is no rules file (zeros, no
// newline) is refused after a bounded read, a needed item larger than the
// bound is refused, and a rules file far larger than the bound reads when
// its items are small.
func TestRulesRequirementsBounded(t *testing.T) {
	zeros := &countingReader{r: io.LimitReader(zeroReader{}, 1<<40)}
	if _, _, err := oci.RulesRequirementsFrom(t.Context(), zeros); err == nil {
		t.Fatal("a stream of zeros read as a rules file")
	}
	if zeros.n > oci.MaxRulesItemBytes+1<<20 {
		t.Errorf("read %d bytes of zeros, bound %d", zeros.n, oci.MaxRulesItemBytes)
	}

	big := "- required_plugin_versions:\n  - name: json\n    version: 0.7.0\n    pad: " + strings.Repeat("x", oci.MaxRulesItemBytes) + "\n"
	if _, _, err := oci.RulesRequirements([]byte(big)); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("oversized needed item: err = %v", err)
	}

	var b bytes.Buffer
	b.WriteString("- required_engine_version: 0.31.0\n")
	for b.Len() < 2*oci.MaxRulesItemBytes {
		b.WriteString("- rule: r\n  condition: evt.type = open\n")
	}
	b.WriteString("- rule: huge\n  desc: " + strings.Repeat("y", oci.MaxRulesItemBytes) + "\n")
	b.WriteString("- required_plugin_versions:\n  - name: json\n    version: 0.7.0\n")
	deps, reqs, err := oci.RulesRequirements(b.Bytes())
	if err != nil || len(deps) != 1 || len(reqs) != 1 {
		t.Errorf("large rules file: deps %v reqs %v err %v", deps, reqs, err)
	}
}

// TestRulesRequirementsCanceled: an endless stream of items stops when the
// context is done.
func TestRulesRequirementsCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	r := &endlessItems{cancelAfter: 1000, cancel: cancel}
	_, _, err := oci.RulesRequirementsFrom(ctx, r)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

type endlessItems struct {
	reads       int
	cancelAfter int
	cancel      func()
}

func (e *endlessItems) Read(p []byte) (int, error) {
	e.reads++
	if e.reads == e.cancelAfter {
		e.cancel()
	}
	const item = "- rule: r\n"
	n := 0
	for n+len(item) <= len(p) {
		n += copy(p[n:], item)
	}
	return n, nil
}
