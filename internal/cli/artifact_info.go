package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// infoView is the stable JSON shape of artifact info, one per REF.
type infoView struct {
	Ref          string            `json:"ref"`
	Name         string            `json:"name"`
	Index        string            `json:"index,omitempty"`
	Type         string            `json:"type,omitempty"`
	Registry     string            `json:"registry"`
	Repository   string            `json:"repository"`
	Constraint   string            `json:"constraint,omitempty"`
	Versions     []string          `json:"versions,omitempty"`
	Tag          string            `json:"tag,omitempty"`
	Version      string            `json:"version,omitempty"`
	Digest       string            `json:"digest"`
	MediaType    string            `json:"mediaType"`
	Platforms    []string          `json:"platforms,omitempty"`
	Platform     string            `json:"platform,omitempty"`
	Dependencies []dependencyView  `json:"dependencies,omitempty"`
	Requirements []requirementView `json:"requirements,omitempty"`
	// Plan is what installing the reference would install, dependencies
	// first.
	Plan []planItemView `json:"plan,omitempty"`
	// PlanError says why Plan is missing (e.g. a dependency not found).
	PlanError string `json:"planError,omitempty"`
	// Error says why the artifact could not be read in full (a missing
	// platform, a manifest that does not parse); the command then fails.
	Error string `json:"error,omitempty"`
}

// InfoOptions are the dependencies and flag values of artifact info.
type InfoOptions struct {
	commandDeps
	resolveOptions
	Refs []string
}

// NewCmdInfo builds artifact info. runF, when not nil, receives the
// parsed and validated options instead of infoRun (tests use it).
func NewCmdInfo(f *cmdutil.Factory, runF func(*InfoOptions) error) *cobra.Command {
	opts := &InfoOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "info REF...",
		Short: "Show the versions a registry has, which one a constraint picks, its digest and platforms",
		Example: `  ferry artifact info falco-rules:3
  ferry artifact info k8saudit:0.x --platform linux/arm64 -o json`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Refs = f.IO, args
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return infoRun(cmd.Context(), opts)
		},
	}
	opts.resolveOptions.AddFlags(cmd)
	return cmd
}

func infoRun(ctx context.Context, opts *InfoOptions) error {
	resolver, err := newChannelResolver(ctx, opts.commandDeps, opts.Platform)
	if err != nil {
		return err
	}
	p, err := newPlanner(ctx, opts.commandDeps, &opts.resolveOptions, &install.State{})
	if err != nil {
		return err
	}
	var views []infoView
	// The facts found are printed even when a reference fails part way (a
	// missing platform, a manifest that does not parse); the first such
	// failure is then the command's error.
	var first error
	for _, raw := range opts.Refs {
		v, err := artifactInfo(ctx, resolver, raw)
		if err == nil {
			// The artifact itself was read: a dependency that cannot be
			// resolved is a warning, not a failure.
			plan, perr := p.Plan(ctx, []string{raw})
			if perr != nil {
				v.PlanError = perr.Error()
				fmt.Fprintf(opts.IO.ErrOut, "warning: %s: cannot work out what installing it would install: %s\n", raw, strings.ReplaceAll(perr.Error(), "\n", "; "))
			} else {
				v.Plan = newPlanItemViews(plan.Items)
			}
		}
		if err != nil {
			if v.Digest == "" {
				return err
			}
			v.Error = err.Error()
			if first == nil {
				first = err
			}
		}
		views = append(views, v)
	}
	if opts.Global.JSON() {
		if err := printJSON(opts.IO.Out, views); err != nil {
			return err
		}
		return first
	}
	for i, v := range views {
		if i > 0 {
			fmt.Fprintln(opts.IO.Out)
		}
		printInfo(opts.IO.Out, v)
	}
	return first
}

// artifactInfo returns what is known of raw. When the reference resolves to a
// digest but its artifact cannot be read (a missing platform, a manifest
// that does not parse), the view holds the facts found so far along with
// the error.
func artifactInfo(ctx context.Context, r *install.Resolver, raw string) (infoView, error) {
	res, err := r.Resolve(ctx, raw)
	if err != nil {
		return infoView{}, err
	}
	v := infoView{
		Ref: raw, Name: res.Name, Index: res.Index, Registry: res.Location.Registry, Repository: res.Location.Repository,
		Constraint: res.Constraint, Versions: res.Versions, Tag: res.Tag, Version: res.Version,
		Digest: res.Root.Descriptor.Digest.String(), MediaType: res.Root.Descriptor.MediaType,
	}
	if res.Entry != nil {
		v.Type = res.Entry.Type
	}
	art, err := r.Client.Resolve(ctx, res.Root, r.Platform)
	v.Platforms = platformsOf(art, err)
	if err != nil {
		// A missing platform still leaves useful facts to show.
		return v, err
	}
	v.Type, v.Platform = art.Type, art.Platform
	cfg, err := r.Client.FetchConfig(ctx, art.Location, art.Config)
	if err != nil {
		return v, err
	}
	v.Dependencies, v.Requirements = newDependencyViews(cfg.Dependencies), newRequirementViews(cfg.Requirements)
	if v.Version == "" {
		v.Version = cfg.Version
	}
	return v, nil
}

func platformsOf(art *oci.Artifact, err error) []string {
	if art != nil {
		return art.Platforms
	}
	var perr *oci.PlatformError
	if errors.As(err, &perr) {
		return perr.Have
	}
	return nil
}

func printInfo(out io.Writer, v infoView) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, val)
		}
	}
	name := v.Name
	if v.Index != "" {
		name = v.Index + "/" + v.Name
	}
	row("Name", name)
	row("Type", v.Type)
	row("Repository", v.Registry+"/"+v.Repository)
	if v.Constraint != "" {
		row("Constraint", v.Constraint)
	}
	row("Versions", strings.Join(v.Versions, ", "))
	if v.Version != "" {
		row("Picked", v.Version+" (tag "+v.Tag+")")
	} else {
		row("Tag", v.Tag)
	}
	row("Digest", v.Digest)
	row("Media type", v.MediaType)
	row("Platforms", strings.Join(v.Platforms, ", "))
	for _, d := range v.Dependencies {
		alts := ""
		for _, a := range d.Alternatives {
			alts += " | " + a.Name + ":" + a.Version
		}
		row("Depends on", d.Name+":"+d.Version+alts)
	}
	for _, r := range v.Requirements {
		row("Requires", r.Name+" "+r.Version)
	}
	_ = tw.Flush()
	if len(v.Plan) > 1 {
		fmt.Fprintln(out, "Installs (dependencies first):")
		for _, it := range v.Plan {
			fmt.Fprintf(out, "  %s %s  (%s)\n", it.Name, it.Version, strings.Join(it.Reasons, "; "))
		}
	}
}
