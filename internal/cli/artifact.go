package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

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
		NewCmdInstall(f, nil),
		newCmdArtifactLock(f),
		newCmdArtifactBundle(f),
		newCmdArtifactMirror(f),
		NewCmdPush(f, nil),
		newCmdArtifactVerify(f),
		newCmdArtifactPromote(f),
		NewCmdFollow(f, nil),
		newCmdArtifactConfig(f), newCmdArtifactManifest(f),
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
	return printEntrySeq(f, slices.Values(found))
}

// printEntrySeq prints the entries entries yields (it may be walked twice),
// one at a time: a listing of a big index is never held in memory as views
// or as a table.
func printEntrySeq(f *cmdutil.Factory, entries iter.Seq[index.Found]) error {
	if f.Global.JSON() {
		return writeJSONArray(f.IO.Out, func(yield func(any) bool) {
			for fd := range entries {
				if !yield(newEntryView(fd.Entry, fd.Index)) {
					return
				}
			}
		})
	}
	if f.Falcoctl {
		// falcoctl's columns.
		return writeTable(f.IO.Out, []string{"INDEX", "ARTIFACT", "TYPE", "REGISTRY", "REPOSITORY"}, func(yield func([]string) bool) {
			for fd := range entries {
				if !yield([]string{fd.Index, fd.Name, fd.Type, fd.Registry, fd.Repository}) {
					return
				}
			}
		})
	}
	return writeTable(f.IO.Out, []string{"INDEX", "NAME", "TYPE", "REPOSITORY", "DESCRIPTION"}, func(yield func([]string) bool) {
		for fd := range entries {
			if !yield([]string{fd.Index, fd.Name, fd.Type, fd.Registry + "/" + fd.Repository, oneLine(fd.Description, 60)}) {
				return
			}
		}
	})
}

// writeJSONArray writes the values as one indented JSON array, byte for
// byte what f.PrintJSON writes for the slice of them, one element at a time.
func writeJSONArray(out io.Writer, values iter.Seq[any]) error {
	w := bufio.NewWriter(out)
	n := 0
	var err error
	for v := range values {
		var b []byte
		if b, err = json.MarshalIndent(v, "  ", "  "); err != nil {
			break
		}
		if n == 0 {
			w.WriteString("[\n  ")
		} else {
			w.WriteString(",\n  ")
		}
		w.Write(b)
		n++
	}
	if err != nil {
		return err
	}
	if n == 0 {
		w.WriteString("[]\n")
	} else {
		w.WriteString("\n]\n")
	}
	return w.Flush()
}

// writeTable writes header and rows as a text/tabwriter table with padding
// 2 would (the last column not padded), walking rows twice (column widths,
// then the lines) so that no copy of the table is buffered.
func writeTable(out io.Writer, header []string, rows iter.Seq[[]string]) error {
	widths := make([]int, len(header))
	measure := func(cells []string) {
		for c, cell := range cells[:len(cells)-1] {
			widths[c] = max(widths[c], utf8.RuneCountInString(cell))
		}
	}
	measure(header)
	for r := range rows {
		measure(r)
	}
	w := bufio.NewWriter(out)
	line := func(cells []string) {
		for c, cell := range cells[:len(cells)-1] {
			w.WriteString(cell)
			w.WriteString(strings.Repeat(" ", widths[c]-utf8.RuneCountInString(cell)+2))
		}
		w.WriteString(cells[len(cells)-1])
		w.WriteString("\n")
	}
	line(header)
	for r := range rows {
		line(r)
	}
	return w.Flush()
}

func oneLine(s string, max int) string {
	if !isOneLine(s) {
		s = strings.Join(strings.Fields(s), " ")
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	cut := 0
	for range max - 1 {
		_, size := utf8.DecodeRuneInString(s[cut:])
		cut += size
	}
	return s[:cut] + "…"
}

// isOneLine reports whether s is already what oneLine's normalization
// makes of it: no leading, trailing or repeated spaces, no other white
// space. (A listing of a big index calls oneLine for every entry.)
func isOneLine(s string) bool {
	prevSpace := true
	for _, r := range s {
		switch {
		case r == ' ':
			if prevSpace {
				return false
			}
			prevSpace = true
		case unicode.IsSpace(r):
			return false
		default:
			prevSpace = false
		}
	}
	return !prevSpace || s == ""
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
			l := set.Listing(opts.Type, opts.Index)
			return printEntrySeq(f, func(yield func(index.Found) bool) { l.Each(yield) })
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

type searchOptions struct {
	Type     string
	MinScore float64
}

// searchView is an entryView with the score a search gave it.
type searchView struct {
	entryView
	Score float64 `json:"score"`
}

func newCmdArtifactSearch(f *cmdutil.Factory) *cobra.Command {
	opts := &searchOptions{}
	cmd := &cobra.Command{
		Use:   "search KEYWORD...",
		Short: "Search artifacts by name (fuzzily), keyword and description; any keyword matches",
		Long: `Search artifacts by name, keyword and description. An artifact matches when any
KEYWORD is close enough to its name (the score, 1 minus the edit distance over the
longer length, is at least --min-score, so a typo still finds it), or appears in its
name, keywords or description. The best scores come first.`,
		Example: `  ferry artifact search k8s audit
  ferry artifact search cloudtrailz
  ferry artifact search cloudtrail --type plugin -o json`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validTypeFlag(opts.Type); err != nil {
				return err
			}
			if !(opts.MinScore > 0 && opts.MinScore <= 1) {
				return cmdutil.Usage(fmt.Errorf("--min-score must be within (0,1], not %v", opts.MinScore))
			}
			set, err := f.Indexes(cmd.Context())
			if err != nil {
				return err
			}
			hits := set.Search(args, opts.Type, opts.MinScore)
			if len(hits) == 0 && !f.Global.JSON() {
				return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: fmt.Errorf("no artifact matches %q", strings.Join(args, " "))}
			}
			if f.Global.JSON() {
				return writeJSONArray(f.IO.Out, func(yield func(any) bool) {
					for _, h := range hits {
						if !yield(searchView{newEntryView(h.Entry, h.Index), math.Round(h.Score*1000) / 1000}) {
							return
						}
					}
				})
			}
			found := make([]index.Found, len(hits))
			for i, h := range hits {
				found[i] = h.Found
			}
			return printEntries(f, found)
		},
	}
	cmd.Flags().StringVar(&opts.Type, "type", "", "only artifacts of this type: rulesfile, plugin, asset")
	cmd.Flags().Float64Var(&opts.MinScore, "min-score", index.DefaultMinScore, "the name similarity, within (0,1], from which a keyword matches a name")
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
	Plan []install.PlanItem `json:"plan,omitempty"`
	// PlanError says why Plan is missing (e.g. a dependency not found).
	PlanError string `json:"planError,omitempty"`
	// Error says why the artifact could not be read in full (a missing
	// platform, a manifest that does not parse); the command then fails.
	Error string `json:"error,omitempty"`
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
			// The facts found are printed even when a reference fails
			// part way (a missing platform, a manifest that does not
			// parse); the first such failure is then the command's error.
			var first error
			for _, raw := range args {
				v, err := artifactInfo(cmd, f, resolver, raw)
				if err == nil {
					// The artifact itself was read: a dependency that
					// cannot be resolved is a warning, not a failure.
					plan, perr := p.Plan(cmd.Context(), []string{raw})
					if perr != nil {
						v.PlanError = perr.Error()
						fmt.Fprintf(f.IO.ErrOut, "warning: %s: cannot work out what installing it would install: %s\n", raw, strings.ReplaceAll(perr.Error(), "\n", "; "))
					} else {
						v.Plan = plan.Items
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
			if f.Global.JSON() {
				if err := f.PrintJSON(views); err != nil {
					return err
				}
				return first
			}
			for i, v := range views {
				if i > 0 {
					fmt.Fprintln(f.IO.Out)
				}
				printInfo(f, v)
			}
			return first
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
	if r.HostMirrors, err = hostMirrors(f.Config); err != nil {
		return nil, err
	}
	return r, nil
}

// artifactInfo returns what is known of raw. When the reference resolves to a
// digest but its artifact cannot be read (a missing platform, a manifest
// that does not parse), the view holds the facts found so far along with
// the error.
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
		return v, err
	}
	v.Type, v.Platform = art.Type, art.Platform
	cfg, err := r.Client.FetchConfig(cmd.Context(), art.Location, art.Config)
	if err != nil {
		return v, err
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
	_ = tw.Flush()
	if len(v.Plan) > 1 {
		fmt.Fprintln(f.IO.Out, "Installs (dependencies first):")
		for _, it := range v.Plan {
			fmt.Fprintf(f.IO.Out, "  %s %s  (%s)\n", it.Name, it.Version, strings.Join(it.Reasons, "; "))
		}
	}
}
