// Package yamlerr reads the line and the problem out of gopkg.in/yaml.v3's
// errors, so that a malformed file is reported as "FILE: line N: problem"
// with the line a user sees in an editor.
package yamlerr

import (
	"errors"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// yamlLine splits "line N: msg" (optionally after a "yaml: " prefix) as
// found in yaml.v3's messages.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?(?:line (\d+): )?((?s).*)$`)

// Split returns the 1-based line (0 when the error names none) and the
// problem of an error from yaml.Unmarshal or yaml.Node.Decode. Of a type
// error it returns the first problem.
func Split(err error) (line int, problem string) {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	m := yamlLine.FindStringSubmatch(msg)
	if m[1] != "" {
		line, _ = strconv.Atoi(m[1])
	}
	if isParserProblem(m[2]) {
		line++
	}
	return line, m[2]
}

// isParserProblem reports whether msg is one of yaml.v3's parser (not
// scanner) errors, whose line numbers it reports 0-based (omitting line 0).
func isParserProblem(msg string) bool {
	switch msg {
	case "did not find expected ',' or ']'", "did not find expected ',' or '}'",
		"did not find expected '-' indicator", "did not find expected <document start>",
		"did not find expected <stream-start>", "did not find expected key",
		"did not find expected node content", "found duplicate %TAG directive",
		"found duplicate %YAML directive", "found incompatible YAML document",
		"found undefined tag handle":
		return true
	}
	return false
}
