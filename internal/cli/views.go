package cli

import (
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// Views shared by several commands' JSON output. Each has stable field
// names, documented in docs/json.md; no library struct is printed as is.

// dependencyView is a dependency of an artifact (artifact info).
type dependencyView struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Alternatives []alternativeView `json:"alternatives,omitempty"`
}

// alternativeView satisfies a dependency in its place.
type alternativeView struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// requirementView is a capability the engine must offer, e.g.
// plugin_api_version 3.7.0.
type requirementView struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

func newDependencyViews(deps []oci.Dependency) []dependencyView {
	if deps == nil {
		return nil
	}
	out := make([]dependencyView, 0, len(deps))
	for _, d := range deps {
		v := dependencyView{Name: d.Name, Version: d.Version}
		for _, a := range d.Alternatives {
			v.Alternatives = append(v.Alternatives, alternativeView{Name: a.Name, Version: a.Version})
		}
		out = append(out, v)
	}
	return out
}

func newRequirementViews(reqs []oci.Requirement) []requirementView {
	if reqs == nil {
		return nil
	}
	out := make([]requirementView, 0, len(reqs))
	for _, r := range reqs {
		out = append(out, requirementView{Name: r.Name, Version: r.Version})
	}
	return out
}

// planItemView is one artifact an install would install (artifact info's
// plan), dependencies first.
type planItemView struct {
	Name      string            `json:"name"`
	Index     string            `json:"index,omitempty"`
	Ref       string            `json:"ref,omitempty"`
	Version   string            `json:"version"`
	Tag       string            `json:"tag,omitempty"`
	Requested bool              `json:"requested"`
	Reasons   []string          `json:"reasons"`
	DependsOn []string          `json:"dependsOn,omitempty"`
	Unchecked []requirementView `json:"uncheckedRequirements,omitempty"`
}

func newPlanItemViews(items []install.PlanItem) []planItemView {
	if items == nil {
		return nil
	}
	out := make([]planItemView, 0, len(items))
	for _, it := range items {
		out = append(out, planItemView{
			Name: it.Name, Index: it.Index, Ref: it.Ref, Version: it.Version, Tag: it.Tag, Requested: it.Requested,
			Reasons: it.Reasons, DependsOn: it.DependsOn, Unchecked: newRequirementViews(it.Unchecked),
		})
	}
	return out
}

// checkView is one check of a verification.
type checkView struct {
	Name    string `json:"name"`
	Subject string `json:"subject,omitempty"`
	OK      bool   `json:"ok"`
	Detail  string `json:"detail,omitempty"`
}

func newCheckViews(checks []oci.Check) []checkView {
	if checks == nil {
		return nil
	}
	out := make([]checkView, 0, len(checks))
	for _, c := range checks {
		out = append(out, checkView{Name: c.Name, Subject: c.Subject, OK: c.OK, Detail: c.Detail})
	}
	return out
}
