package oci

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Requirement names Falco declares for rules files.
const (
	RequirementEngineSemver = "engine_version_semver"
	RequirementEngine       = "engine_version"
	RequirementPluginAPI    = "plugin_api_version"
)

// RulesRequirements reads what a Falco rules file declares it needs: its
// required_plugin_versions become dependencies and its
// required_engine_version a requirement (engine_version_semver for a semver
// string, engine_version for the older bare integer). Every other item is
// ignored, so any valid rules file reads without error.
func RulesRequirements(data []byte) ([]Dependency, []Requirement, error) {
	var items []yaml.Node
	if err := yaml.Unmarshal(data, &items); err != nil {
		return nil, nil, fmt.Errorf("reading rules file: %w", err)
	}
	var deps []Dependency
	var reqs []Requirement
	for _, item := range items {
		var probe struct {
			Engine  yaml.Node    `yaml:"required_engine_version"`
			Plugins []Dependency `yaml:"required_plugin_versions"`
		}
		if item.Kind != yaml.MappingNode {
			continue
		}
		if err := item.Decode(&probe); err != nil {
			return nil, nil, fmt.Errorf("reading rules file: line %d: %w", item.Line, err)
		}
		if e := probe.Engine; e.Kind == yaml.ScalarNode {
			name := RequirementEngineSemver
			if _, err := strconv.Atoi(e.Value); err == nil {
				name = RequirementEngine
			}
			reqs = setRequirement(reqs, Requirement{Name: name, Version: e.Value})
		}
		for _, p := range probe.Plugins {
			if p.Name == "" || p.Version == "" {
				return nil, nil, fmt.Errorf("reading rules file: line %d: a required plugin needs a name and a version", item.Line)
			}
			deps = append(deps, p)
		}
	}
	return deps, reqs, nil
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
