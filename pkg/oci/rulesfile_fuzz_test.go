package oci

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzRulesRequirements: reading a rules file item by item never panics,
// and for plain block YAML (no quoted, flow or block scalars, no anchors,
// where an item cannot span a line that starts with "-") it finds what
// parsing the whole document finds.
func FuzzRulesRequirements(f *testing.F) {
	for _, s := range []string{
		"- required_engine_version: 0.31.0\n- required_plugin_versions:\n  - name: k8saudit\n    version: 0.7.0\n    alternatives:\n      - name: k8saudit-eks\n        version: 0.4.0\n- rule: r\n  condition: evt.type = open\n",
		"# c\n---\n- rule: a\n-\n  required_engine_version: 15\n...\n- required_engine_version: 1.0.0\n",
		"[{required_engine_version: 12}]\n",
		"rule: x\n",
		"- required_plugin_versions:\n  - name: json\n",
		"- rule: a\n  desc: b\n- list: l\n  items:\n  - x\n  - y\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		deps, reqs, err := RulesRequirements(data)
		if !plainMappings(data) {
			return
		}
		wd, wr, werr := (&rulesScanner{}).parse(data, 1)
		if werr != nil {
			return // not a valid rules file as a whole: item by item may differ
		}
		if err != nil {
			t.Fatalf("item by item: %v; whole: ok\n%q", err, data)
		}
		if !reflect.DeepEqual(deps, wd) || !reflect.DeepEqual(reqs, wr) {
			t.Fatalf("item by item %v %v, whole %v %v\n%q", deps, reqs, wd, wr, data)
		}
	})
}

// plainMappings allows ": " (block mappings) but no other YAML indicator
// that could carry an item across lines.
func plainMappings(data []byte) bool {
	if bytes.ContainsAny(data, "\"'[]{}&*|>!%@`\t\r\\?,") {
		return false
	}
	return !bytes.Contains(bytes.ReplaceAll(bytes.ReplaceAll(data, []byte(": "), nil), []byte(":\n"), nil), []byte(":"))
}
