package cli

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

func newCmdArtifact(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "artifact",
		Short: "Find, inspect, install and publish artifacts",
	}
	cmd.AddCommand(
		newCmdArtifactList(f),
		newCmdArtifactSearch(f),
		newCmdArtifactInfo(f),
		newCmdArtifactInstall(f),
		newCmdArtifactLock(f),
		newCmdArtifactBundle(f),
		newCmdArtifactMirror(f),
		newCmdArtifactPush(f),
		newCmdArtifactVerify(f),
		newCmdArtifactPromote(f),
		newCmdArtifactFollow(f),
	)
	return cmd
}

// entryView is the stable JSON shape of an index entry.
type entryView struct {
	Name        string   `json:"name"`
	Index       string   `json:"index"`
	Type        string   `json:"type"`
	Registry    string   `json:"registry"`
	Repository  string   `json:"repository"`
	Description string   `json:"description,omitempty"`
	Home        string   `json:"home,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
	License     string   `json:"license,omitempty"`
	Source      string   `json:"source,omitempty"`
	Signed      bool     `json:"signed"`
}

func newEntryView(e index.Entry, idx string) entryView {
	return entryView{
		Name: e.Name, Index: idx, Type: e.Type, Registry: e.Registry, Repository: e.Repository,
		Description: e.Description, Home: e.Home, Keywords: e.Keywords, License: e.License,
		Source: e.Source, Signed: e.Signature != nil,
	}
}

func printEntries(f *cmdutil.Factory, found []index.Found) error {
	views := make([]entryView, 0, len(found))
	for _, fd := range found {
		views = append(views, newEntryView(fd.Entry, fd.Index))
	}
	if f.Global.JSON() {
		return f.PrintJSON(views)
	}
	tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tNAME\tTYPE\tREPOSITORY\tDESCRIPTION")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s\t%s\n", v.Index, v.Name, v.Type, v.Registry, v.Repository, oneLine(v.Description, 60))
	}
	return tw.Flush()
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

type listOptions struct {
	Type  string
	Index string
}

func newCmdArtifactList(f *cmdutil.Factory) *cobra.Command {
	opts := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the artifacts the indexes name",
		Example: `  ferry artifact list --type plugin
  ferry artifact list --index default -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validTypeFlag(opts.Type); err != nil {
				return err
			}
			set, err := f.Indexes(cmd.Context())
			if err != nil {
				return err
			}
			if opts.Index != "" && !set.Has(opts.Index) {
				return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: fmt.Errorf("no index named %q", opts.Index)}
			}
			return printEntries(f, set.List(opts.Type, opts.Index))
		},
	}
	cmd.Flags().StringVar(&opts.Type, "type", "", "only artifacts of this type: rulesfile, plugin, asset")
	cmd.Flags().StringVar(&opts.Index, "index", "", "only artifacts of this index")
	return cmd
}

func validTypeFlag(t string) error {
	if t == "" || t == "driver" {
		return nil
	}
	if err := oci.ValidType(t); err != nil {
		return cmdutil.Usage(err)
	}
	return nil
}

func newCmdArtifactSearch(f *cmdutil.Factory) *cobra.Command {
	opts := &listOptions{}
	cmd := &cobra.Command{
		Use:   "search KEYWORD...",
		Short: "Search artifacts by name, keyword and description",
		Example: `  ferry artifact search k8s audit
  ferry artifact search cloudtrail --type plugin -o json`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validTypeFlag(opts.Type); err != nil {
				return err
			}
			set, err := f.Indexes(cmd.Context())
			if err != nil {
				return err
			}
			found := set.Search(args, opts.Type)
			if len(found) == 0 && !f.Global.JSON() {
				return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: fmt.Errorf("no artifact matches %q", strings.Join(args, " "))}
			}
			return printEntries(f, found)
		},
	}
	cmd.Flags().StringVar(&opts.Type, "type", "", "only artifacts of this type: rulesfile, plugin, asset")
	return cmd
}

// platformOptions is the --platform flag group.
type platformOptions struct{ Platform string }

func (p *platformOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.Platform, "platform", runtime.GOOS+"/"+runtime.GOARCH, "platform OS/ARCH of plugins to pick from an image index")
}

func (p *platformOptions) Validate() error {
	os, arch, ok := strings.Cut(p.Platform, "/")
	if !ok || os == "" || arch == "" || strings.Contains(arch, "/") {
		return cmdutil.Usage(fmt.Errorf("--platform must be OS/ARCH, like linux/amd64, not %q", p.Platform))
	}
	return nil
}

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
	Dependencies []oci.Dependency  `json:"dependencies,omitempty"`
	Requirements []oci.Requirement `json:"requirements,omitempty"`
	// Plan is what installing the reference would install, dependencies
	// first.
	Plan  []install.PlanItem `json:"plan,omitempty"`
	Error string             `json:"error,omitempty"`
}

func newCmdArtifactInfo(f *cmdutil.Factory) *cobra.Command {
	opts := &resolveOptions{}
	cmd := &cobra.Command{
		Use:   "info REF...",
		Short: "Show the versions a registry has, which one a constraint picks, its digest and platforms",
		Example: `  ferry artifact info falco-rules:3
  ferry artifact info k8saudit:0.x --platform linux/arm64 -o json`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Validate(); err != nil {
				return err
			}
			resolver, err := newChannelResolver(f, cmd, opts.Platform)
			if err != nil {
				return err
			}
			p, err := newPlanner(cmd, f, opts, &install.State{})
			if err != nil {
				return err
			}
			var views []infoView
			for _, raw := range args {
				v, err := artifactInfo(cmd, f, resolver, raw)
				if err != nil {
					return err
				}
				if v.Error == "" {
					plan, err := p.Plan(cmd.Context(), []string{raw})
					if err != nil {
						v.Error = err.Error()
					} else {
						v.Plan = plan.Items
					}
				}
				views = append(views, v)
			}
			if f.Global.JSON() {
				return f.PrintJSON(views)
			}
			for i, v := range views {
				if i > 0 {
					fmt.Fprintln(f.IO.Out)
				}
				printInfo(f, v)
			}
			return nil
		},
	}
	opts.AddFlags(cmd)
	return cmd
}

func newResolver(f *cmdutil.Factory, cmd *cobra.Command, platform string) (*install.Resolver, error) {
	set, err := f.Indexes(cmd.Context())
	if err != nil {
		return nil, err
	}
	client, err := f.OCIClient()
	if err != nil {
		return nil, err
	}
	return &install.Resolver{Indexes: set, Client: client, Platform: platform}, nil
}

// newChannelResolver is newResolver reading registries in install's channel
// order: the config's host mirrors, the primary, the entry's mirrors.
func newChannelResolver(f *cmdutil.Factory, cmd *cobra.Command, platform string) (*install.Resolver, error) {
	r, err := newResolver(f, cmd, platform)
	if err != nil {
		return nil, err
	}
	if r.HostMirrors, err = hostMirrors(f); err != nil {
		return nil, err
	}
	return r, nil
}

func artifactInfo(cmd *cobra.Command, f *cmdutil.Factory, r *install.Resolver, raw string) (infoView, error) {
	res, err := r.Resolve(cmd.Context(), raw)
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
	art, err := r.Client.Resolve(cmd.Context(), res.Root, r.Platform)
	v.Platforms = platformsOf(art, err)
	if err != nil {
		// A missing platform still leaves useful facts to show.
		v.Error = err.Error()
		return v, nil
	}
	v.Type, v.Platform = art.Type, art.Platform
	cfg, err := r.Client.FetchConfig(cmd.Context(), art.Location, art.Config)
	if err != nil {
		return infoView{}, err
	}
	v.Dependencies, v.Requirements = cfg.Dependencies, cfg.Requirements
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

func printInfo(f *cmdutil.Factory, v infoView) {
	tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
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
	row("Error", v.Error)
	_ = tw.Flush()
	if len(v.Plan) > 1 {
		fmt.Fprintln(f.IO.Out, "Installs (dependencies first):")
		for _, it := range v.Plan {
			fmt.Fprintf(f.IO.Out, "  %s %s  (%s)\n", it.Name, it.Version, strings.Join(it.Reasons, "; "))
		}
	}
}
