package oci_test

import (
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
