package e2e

import (
	"testing"
)

// A config file that does not parse, or holds a value of the wrong type,
// is invalid input (exit 2), reported on one line naming the file and the
// line, in ferry mode and in falcoctl mode alike.
func TestMalformedConfigIsInvalidInput(t *testing.T) {
	cases := []struct {
		name, content, want string
	}{
		{"syntax", "indexes:\n  - name: x\n    url: [unclosed\n", ": line 3: did not find expected"},
		{"type", "engine: {}\nindexes: hello\n", ": line 2: want a list, not a string (hello)"},
		{"falcoctl-auth", "registry:\n  auth:\n    basic: hello\n", ": line 3: want a list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.write("bad.yaml", c.content)
			oneLine(t, e.ferry("--config", cfg, "index", "list"), 2, "config "+cfg+c.want)

			fc := newFalcoctlEnv(t)
			cfg = fc.write("falcoctl.yaml", c.content)
			oneLine(t, fc.run("--config", cfg, "index", "list"), 2, "config "+cfg+c.want)
			oneLine(t, fc.run("--config", cfg, "artifact", "install", "rules"), 2, "config "+cfg+c.want)
		})
	}
}
