package oci

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Requirement names Falco declares for rules files.
const (
	RequirementEngineSemver = "engine_version_semver"
	RequirementEngine       = "engine_version"
	RequirementPluginAPI    = "plugin_api_version"
)

// MaxRulesItemBytes bounds what RulesRequirementsFrom holds in memory: one
// top-level item of a rules file, or the whole document when it is not a
// block sequence (e.g. written in flow style).
const MaxRulesItemBytes = 16 << 20

// RulesRequirements reads what a Falco rules file declares it needs: its
// required_plugin_versions become dependencies and its
// required_engine_version a requirement (engine_version_semver for a semver
// string, engine_version for the older bare integer). Every other item is
// ignored, so any valid rules file reads without error.
func RulesRequirements(data []byte) ([]Dependency, []Requirement, error) {
	return RulesRequirementsFrom(context.Background(), bytes.NewReader(data))
}

// RulesRequirementsFrom is RulesRequirements reading a stream: a rules file
// is a sequence of top-level items, read one at a time, and only the items
// that mention required_engine_version or required_plugin_versions are
// parsed, so that a large rules file costs little memory. Memory is bounded
// by MaxRulesItemBytes; the read stops when ctx is done.
func RulesRequirementsFrom(ctx context.Context, r io.Reader) ([]Dependency, []Requirement, error) {
	s := &rulesScanner{br: bufio.NewReaderSize(&ctxReader{ctx: ctx, r: r}, 64<<10)}
	return s.scan()
}

var (
	keyEngine  = []byte("required_engine_version")
	keyPlugins = []byte("required_plugin_versions")
)

type rulesScanner struct {
	br     *bufio.Reader
	lineNo int // lines read so far

	item     bytes.Buffer
	itemLine int  // line of the item's first line
	needed   bool // the item mentions a requirement key
	overflow bool // the item outgrew MaxRulesItemBytes and was dropped

	deps []Dependency
	reqs []Requirement
}

func (s *rulesScanner) scan() ([]Dependency, []Requirement, error) {
	var preamble bytes.Buffer // comments and directives before the first item
	started := false
	for {
		line, err := s.readLine()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("reading rules file: %w", err)
		}
		if len(line) > 0 {
			switch {
			case !started && insignificant(line):
				preamble.Write(line)
			case !started && !itemStart(line):
				// Not a block sequence: parse the document whole, bounded.
				rest := io.MultiReader(&preamble, bytes.NewReader(line), s.br)
				data, rerr := io.ReadAll(io.LimitReader(rest, MaxRulesItemBytes+1))
				if rerr != nil {
					return nil, nil, fmt.Errorf("reading rules file: %w", rerr)
				}
				if len(data) > MaxRulesItemBytes {
					return nil, nil, fmt.Errorf("reading rules file: not a block sequence of items, and larger than the %d bytes read whole", MaxRulesItemBytes)
				}
				return s.parse(data, 1)
			case itemStart(line):
				if started {
					if ferr := s.flush(); ferr != nil {
						return nil, nil, ferr
					}
				}
				started = true
				s.itemLine, s.needed, s.overflow = s.lineNo, false, false
				s.item.Reset()
				s.add(line)
			case docEnd(line):
				// Only the first document counts, as with yaml.Unmarshal.
				return s.finish(started)
			default:
				s.add(line)
			}
		}
		if errors.Is(err, io.EOF) {
			return s.finish(started)
		}
	}
}

func (s *rulesScanner) finish(started bool) ([]Dependency, []Requirement, error) {
	if started {
		if err := s.flush(); err != nil {
			return nil, nil, err
		}
	}
	return s.deps, s.reqs, nil
}

// readLine returns the next line, newline included; a line longer than
// MaxRulesItemBytes comes in pieces of at most the reader's buffer.
func (s *rulesScanner) readLine() ([]byte, error) {
	line, err := s.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		err = nil
	} else if len(line) > 0 && line[len(line)-1] == '\n' {
		s.lineNo++
	} else if len(line) > 0 {
		s.lineNo++ // the last line, without its newline
	}
	return line, err
}

func (s *rulesScanner) add(line []byte) {
	if bytes.Contains(line, keyEngine) || bytes.Contains(line, keyPlugins) {
		s.needed = true
	}
	if s.overflow {
		return
	}
	if s.item.Len()+len(line) > MaxRulesItemBytes {
		s.overflow = true
		s.item.Reset()
		return
	}
	s.item.Write(line)
}

func (s *rulesScanner) flush() error {
	if !s.needed {
		return nil
	}
	if s.overflow {
		return fmt.Errorf("reading rules file: line %d: the item is larger than %d bytes", s.itemLine, MaxRulesItemBytes)
	}
	_, _, err := s.parse(s.item.Bytes(), s.itemLine)
	return err
}

// parse reads data, a sequence of items whose first line is line first of
// the file, into s.deps and s.reqs.
func (s *rulesScanner) parse(data []byte, first int) ([]Dependency, []Requirement, error) {
	var items []yaml.Node
	if err := yaml.Unmarshal(data, &items); err != nil {
		if first > 1 {
			return nil, nil, fmt.Errorf("reading rules file: item at line %d: %w", first, err)
		}
		return nil, nil, fmt.Errorf("reading rules file: %w", err)
	}
	for _, item := range items {
		var probe struct {
			Engine  yaml.Node    `yaml:"required_engine_version"`
			Plugins []Dependency `yaml:"required_plugin_versions"`
		}
		if item.Kind != yaml.MappingNode {
			continue
		}
		line := item.Line + first - 1
		if err := item.Decode(&probe); err != nil {
			return nil, nil, fmt.Errorf("reading rules file: line %d: %w", line, err)
		}
		if e := probe.Engine; e.Kind == yaml.ScalarNode {
			name := RequirementEngineSemver
			if _, err := strconv.Atoi(e.Value); err == nil {
				name = RequirementEngine
			}
			s.reqs = setRequirement(s.reqs, Requirement{Name: name, Version: e.Value})
		}
		for _, p := range probe.Plugins {
			if p.Name == "" || p.Version == "" {
				return nil, nil, fmt.Errorf("reading rules file: line %d: a required plugin needs a name and a version", line)
			}
			s.deps = append(s.deps, p)
		}
	}
	return s.deps, s.reqs, nil
}

// itemStart reports whether line opens a top-level sequence item: "-" in
// the first column, then a blank or the end of the line.
func itemStart(line []byte) bool {
	if len(line) == 0 || line[0] != '-' {
		return false
	}
	return len(line) == 1 || line[1] == ' ' || line[1] == '\t' || line[1] == '\n' || line[1] == '\r'
}

// insignificant reports a blank line, a comment, a directive or a document
// start before the first item.
func insignificant(line []byte) bool {
	t := bytes.TrimSpace(line)
	return len(t) == 0 || t[0] == '#' || t[0] == '%' || bytes.Equal(t, []byte("---"))
}

// docEnd reports a line that ends the first document: "---" or "...",
// alone or followed by a blank.
func docEnd(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) && !bytes.HasPrefix(line, []byte("...")) {
		return false
	}
	return len(line) == 3 || strings.IndexByte(" \t\r\n", line[3]) >= 0
}

func setRequirement(reqs []Requirement, r Requirement) []Requirement {
	for i := range reqs {
		if reqs[i].Name == r.Name {
			reqs[i] = r
			return reqs
		}
	}
	return append(reqs, r)
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
