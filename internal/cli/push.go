package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// PushOptions are the dependencies and flag values of artifact push (and
// of registry push, which is artifact push underneath).
type PushOptions struct {
	commandDeps
	Ref          string
	Files        []string
	Type         string
	Version      string
	Name         string
	Platforms    []string
	FloatingTags bool
	DependsOn    []string
	Requires     []string
	SourceRepo   string
	StateDir     string
	// ExtraTags and Latest are registry push's falcoctl tags.
	ExtraTags []string
	Latest    bool
	// annotationOnly writes SourceRepo without checking the repository is
	// namespaced by it (falcoctl's --annotation-source).
	annotationOnly bool
	// fromFlags are the request fields whose values the flags gave, not
	// REF's tag or an index entry: the library's errors about those name
	// their flag.
	fromFlags map[oci.Field]bool
	eventsOptions
}

// NewCmdPush builds artifact push. runF, when not nil, receives the parsed
// and validated options instead of pushRun (tests use it).
func NewCmdPush(f *cmdutil.Factory, runF func(*PushOptions) error) *cobra.Command {
	opts := &PushOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "push REF FILE... --type T --version X.Y.Z",
		Short: "Publish an artifact in falcoctl's OCI format",
		Long: `Publish an artifact in falcoctl's OCI format. REF is HOST/REPO (its tag, if any,
must equal --version) or the name of an index entry. A .tar.gz FILE is used as
the layer as is; any other file is packed into a tar.gz holding just that file.
A plugin takes one --platform per FILE, in order, and is pushed as an image
index; platforms pushed earlier under the same version are kept.`,
		Example: `  ferry artifact push 127.0.0.1:5000/falcosecurity/rules/falco-rules falco_rules.yaml \
      --type rulesfile --version 3.0.1 --add-floating-tags \
      --requires engine_version_semver:0.31.0 --source-repo https://github.com/falcosecurity/rules
  ferry artifact push localhost:5000/falcosecurity/plugins/plugin/json libjson-amd64.so libjson-arm64.so \
      --type plugin --version 0.7.0 --platform linux/amd64 --platform linux/arm64`,
		Args: usageArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref, opts.Files = args[0], args[1:]
			opts.IO = f.IO
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return pushRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Type, "type", "", "artifact type: rulesfile, plugin or asset (default: the index entry's)")
	fl.StringVar(&opts.Version, "version", "", "version, strict semver X.Y.Z[-PRE], no +BUILD: OCI tags cannot hold + (default: the REF's tag)")
	fl.StringVar(&opts.Name, "name", "", "name written in the config (default: the last element of the repository)")
	fl.StringArrayVar(&opts.Platforms, "platform", nil, "OS/ARCH of each plugin FILE, in order (repeatable)")
	fl.BoolVar(&opts.FloatingTags, "add-floating-tags", false, "also tag X.Y and X, unless a higher version holds them")
	fl.StringArrayVar(&opts.DependsOn, "depends-on", nil, "dependency NAME:VER[|ALT:VER...] (repeatable)")
	fl.StringArrayVar(&opts.Requires, "requires", nil, "requirement NAME:VER, e.g. engine_version_semver:0.31.0 (repeatable)")
	fl.StringVar(&opts.SourceRepo, "source-repo", "", "source repository URL; the repository path must be namespaced by it")
	cmdutil.Declare(fl, "state-dir", &opts.StateDir)
	opts.eventsOptions.AddFlags(cmd)
	return cmd
}

// parseRef reads REF: a repository, whose tag must equal --version, or
// an index entry; a digest is refused.
func (o *PushOptions) parseRef() (index.Reference, error) {
	ref, err := index.ParseReference(o.Ref)
	if err != nil {
		return ref, err
	}
	if ref.Digest != "" {
		return ref, cmdutil.Usage(errors.New("push needs a repository (and a version), not a digest"))
	}
	if ref.IsOCI() && ref.Tag != "" && o.Version != "" && o.Version != ref.Tag {
		return ref, cmdutil.Usage(fmt.Errorf("the tag %q of %s differs from --version %q", ref.Tag, o.Ref, o.Version))
	}
	return ref, nil
}

// Validate checks what can be checked before REF is looked up.
func (o *PushOptions) Validate() error {
	_, err := o.parseRef()
	return err
}

// pushRun packs and pushes opts.Files to the repository REF names, then
// emits artifact.published and prints the result.
func pushRun(ctx context.Context, opts *PushOptions) (err error) {
	loc, err := opts.location(ctx)
	if err != nil {
		return err
	}
	req, err := opts.request(ctx, loc)
	if err != nil {
		return err
	}
	client, err := opts.OCIClient()
	if err != nil {
		return err
	}
	em, err := opts.eventsOptions.Build(opts.commandDeps, opts.StateDir)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := client.Push(ctx, loc, req)
	if err != nil {
		return fmt.Errorf("pushing %s: %w", loc, err)
	}
	took := time.Since(start)
	cfg := req.Config
	defer func() {
		if em.Enabled() && err == nil {
			var w []string
			w, err = em.Published(ctx, pushedArtifact(loc, cfg.Name, cfg.Version, res, opts.Files, took, registryUser(ctx, opts.commandDeps, em, loc.Registry)))
			printEventWarnings(opts.IO.ErrOut, w)
		}
	}()
	if opts.Global.JSON() {
		return opts.PrintJSON(newPushView(loc, req.Type, cfg.Version, res))
	}
	fmt.Fprintf(opts.IO.Out, "Pushed %s:%s (%s)\n  digest: %s\n  tags:   %s\n", loc, cfg.Version, opts.Type, res.Digest, strings.Join(res.Tags, ", "))
	if len(res.Platforms) > 0 {
		fmt.Fprintf(opts.IO.Out, "  platforms: %s\n", strings.Join(res.Platforms, ", "))
	}
	return nil
}

// location is the repository REF names: REF itself, whose tag is the
// version, or an index entry's, whose type, name, source and constraint
// are the defaults of --type, --name, --source-repo and --version.
func (o *PushOptions) location(ctx context.Context) (oci.Location, error) {
	o.fromFlags = map[oci.Field]bool{
		oci.FieldType: o.Type != "", oci.FieldVersion: o.Version != "", oci.FieldSourceRepo: o.SourceRepo != "",
		oci.FieldDependencies: true, oci.FieldRequirements: true, oci.FieldPlatform: true,
	}
	ref, err := o.parseRef()
	if err != nil {
		return oci.Location{}, err
	}
	if ref.IsOCI() {
		if ref.Tag != "" {
			o.Version = ref.Tag
		}
		return oci.Location{Registry: ref.Registry, Repository: ref.Repository}, nil
	}
	set, err := o.Indexes(ctx)
	if err != nil {
		return oci.Location{}, err
	}
	entry, _, err := set.Lookup(ref.Index, ref.Name)
	if err != nil {
		return oci.Location{}, err
	}
	o.Type = cmp.Or(o.Type, entry.Type)
	o.Name = cmp.Or(o.Name, entry.Name)
	o.SourceRepo = cmp.Or(o.SourceRepo, entry.Source)
	if ref.Constraint != "" && o.Version == "" {
		o.Version = ref.Constraint
	}
	return oci.Location{Registry: entry.Registry, Repository: entry.Repository}, nil
}

// request turns the flags into the push request, validated and completed
// by the library (oci.PushRequest.Validate, Complete).
func (o *PushOptions) request(ctx context.Context, loc oci.Location) (oci.PushRequest, error) {
	req := oci.PushRequest{
		Type: o.Type, Config: oci.Config{Name: o.Name, Version: o.Version}, SourceRepo: o.SourceRepo, SourceUnchecked: o.annotationOnly,
		FloatingTags: o.FloatingTags, Tags: o.ExtraTags, Latest: o.Latest,
	}
	if o.Type == "" {
		return req, cmdutil.Usage(errors.New("--type is required for a repository reference (rulesfile, plugin or asset)"))
	}
	if o.Version == "" {
		return req, cmdutil.Usage(errors.New("--version is required"))
	}
	for _, d := range o.DependsOn {
		dep, err := parseDependency(d)
		if err != nil {
			return req, cmdutil.Usage(err)
		}
		req.Config.Dependencies = append(req.Config.Dependencies, dep)
	}
	for _, r := range o.Requires {
		n, v, ok := strings.Cut(r, ":")
		if !ok || n == "" || v == "" {
			return req, cmdutil.Usage(fmt.Errorf("--requires %q: want NAME:VERSION", r))
		}
		req.Config.Requirements = append(req.Config.Requirements, oci.Requirement{Name: n, Version: v})
	}
	if o.Type == oci.TypePlugin && len(o.Platforms) != len(o.Files) {
		return req, cmdutil.Usage(fmt.Errorf("a plugin needs one --platform per file: %d files, %d platforms", len(o.Files), len(o.Platforms)))
	}
	// The n-th --platform is the n-th FILE's (the library refuses one
	// for a type that is not a plugin).
	for i, path := range o.Files {
		lf := oci.LayerFile{Path: path}
		if i < len(o.Platforms) {
			lf.Platform = o.Platforms[i]
		}
		req.Files = append(req.Files, lf)
	}
	if err := req.Validate(loc); err != nil {
		return req, o.flagError(err)
	}
	return req, req.Complete(ctx, loc)
}

// flagError names the flag that gave the value a library's field error
// (oci.FieldError) is about; the error stays underneath, and with it the
// exit code. A value from REF's tag or an index entry, or a FILE, names
// no flag.
func (o *PushOptions) flagError(err error) error {
	var fe *oci.FieldError
	if !errors.As(err, &fe) || !o.fromFlags[fe.Field] {
		return err
	}
	source := "--source-repo"
	if o.annotationOnly {
		source = "--annotation-source"
	}
	flag := map[oci.Field]string{
		oci.FieldType: "--type", oci.FieldVersion: "--version", oci.FieldSourceRepo: source,
		oci.FieldDependencies: "--depends-on", oci.FieldRequirements: "--requires", oci.FieldPlatform: "--platform",
	}[fe.Field]
	if flag == "" {
		return err
	}
	return fmt.Errorf("%s: %w", flag, err)
}

// parseDependency reads NAME:VER[|ALT:VER...].
func parseDependency(s string) (oci.Dependency, error) {
	var dep oci.Dependency
	for i, part := range strings.Split(s, "|") {
		n, v, ok := strings.Cut(part, ":")
		if !ok || n == "" || v == "" {
			return dep, fmt.Errorf("--depends-on %q: want NAME:VERSION[|ALT:VERSION...]", s)
		}
		if _, err := semver.NewVersion(v); err != nil {
			return dep, fmt.Errorf("--depends-on %q: %q is not a version", s, v)
		}
		if i == 0 {
			dep.Name, dep.Version = n, v
		} else {
			dep.Alternatives = append(dep.Alternatives, oci.Alternative{Name: n, Version: v})
		}
	}
	return dep, nil
}
