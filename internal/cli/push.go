package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
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
	ref, err := opts.parseRef()
	if err != nil {
		return err
	}
	var loc oci.Location
	switch {
	case ref.IsOCI():
		loc = oci.Location{Registry: ref.Registry, Repository: ref.Repository}
		if ref.Tag != "" {
			opts.Version = ref.Tag
		}
	default:
		set, err := opts.Indexes(ctx)
		if err != nil {
			return err
		}
		entry, _, err := set.Lookup(ref.Index, ref.Name)
		if err != nil {
			return err
		}
		loc = oci.Location{Registry: entry.Registry, Repository: entry.Repository}
		if opts.Type == "" {
			opts.Type = entry.Type
		}
		if opts.Name == "" {
			opts.Name = entry.Name
		}
		if opts.SourceRepo == "" {
			opts.SourceRepo = entry.Source
		}
		if ref.Constraint != "" && opts.Version == "" {
			opts.Version = ref.Constraint
		}
	}
	cfg, files, err := opts.build(ctx, loc)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return cmdutil.Usage(err)
	}
	client, err := opts.OCIClient()
	if err != nil {
		return err
	}
	em, err := opts.eventsOptions.Build(opts.f, opts.StateDir)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := client.Push(ctx, loc, oci.PushRequest{
		Type: opts.Type, Config: cfg, Files: files, SourceRepo: opts.SourceRepo, FloatingTags: opts.FloatingTags,
		Tags: opts.ExtraTags, Latest: opts.Latest,
	})
	if err != nil {
		return fmt.Errorf("pushing %s: %w", loc, err)
	}
	took := time.Since(start)
	defer func() {
		if em.Enabled() && err == nil {
			var w []string
			w, err = em.Published(ctx, pushedArtifact(loc, cfg.Name, cfg.Version, res, opts.Files, took, registryUser(ctx, opts.f, em, loc.Registry)))
			printEventWarnings(opts.f, w)
		}
	}()
	if opts.Global.JSON() {
		return opts.f.PrintJSON(struct {
			Ref        string `json:"ref"`
			Registry   string `json:"registry"`
			Repository string `json:"repository"`
			Type       string `json:"type"`
			Version    string `json:"version"`
			*oci.PushResult
		}{loc.String() + ":" + cfg.Version, loc.Registry, loc.Repository, opts.Type, cfg.Version, res})
	}
	fmt.Fprintf(opts.IO.Out, "Pushed %s:%s (%s)\n  digest: %s\n  tags:   %s\n", loc, cfg.Version, opts.Type, res.Digest, strings.Join(res.Tags, ", "))
	if len(res.Platforms) > 0 {
		fmt.Fprintf(opts.IO.Out, "  platforms: %s\n", strings.Join(res.Platforms, ", "))
	}
	return nil
}

// build validates the options and turns them into a config and layer files.
func (o *PushOptions) build(ctx context.Context, loc oci.Location) (oci.Config, []oci.LayerFile, error) {
	cfg := oci.Config{}
	if o.Type == "" {
		return cfg, nil, errors.New("--type is required for a repository reference (rulesfile, plugin or asset)")
	}
	if err := oci.ValidType(o.Type); err != nil {
		return cfg, nil, err
	}
	if o.Version == "" {
		return cfg, nil, errors.New("--version is required")
	}
	if _, err := semver.StrictNewVersion(o.Version); err != nil {
		return cfg, nil, fmt.Errorf("--version %q is not strict semver X.Y.Z[-PRE]", o.Version)
	}
	if err := oci.ValidVersionTag(o.Version); err != nil {
		return cfg, nil, err
	}
	if o.SourceRepo != "" && !o.annotationOnly {
		if err := index.CheckNamespace(o.SourceRepo, loc.Repository); err != nil {
			return cfg, nil, err
		}
	}
	name := o.Name
	if name == "" {
		name = loc.Repository[strings.LastIndex(loc.Repository, "/")+1:]
	}
	cfg.Name, cfg.Version = name, o.Version
	for _, d := range o.DependsOn {
		dep, err := parseDependency(d)
		if err != nil {
			return cfg, nil, err
		}
		cfg.Dependencies = append(cfg.Dependencies, dep)
	}
	for _, r := range o.Requires {
		n, v, ok := strings.Cut(r, ":")
		if !ok || n == "" || v == "" {
			return cfg, nil, fmt.Errorf("--requires %q: want NAME:VERSION", r)
		}
		cfg.Requirements = append(cfg.Requirements, oci.Requirement{Name: n, Version: v})
	}
	var files []oci.LayerFile
	switch {
	case o.Type == oci.TypePlugin && len(o.Platforms) != len(o.Files):
		return cfg, nil, fmt.Errorf("a plugin needs one --platform per file: %d files, %d platforms", len(o.Files), len(o.Platforms))
	case o.Type != oci.TypePlugin && len(o.Platforms) > 0:
		return cfg, nil, fmt.Errorf("--platform applies to plugins only, not to a %s", o.Type)
	case o.Type != oci.TypePlugin && len(o.Files) != 1:
		return cfg, nil, fmt.Errorf("a %s is one file, got %d", o.Type, len(o.Files))
	}
	for i, path := range o.Files {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return cfg, nil, cmdutil.NotFound(err)
		}
		if err != nil {
			return cfg, nil, err
		}
		if !fi.Mode().IsRegular() {
			// A device or a FIFO would be read without end.
			return cfg, nil, fmt.Errorf("%s is not a regular file but %s", path, fileKind(fi.Mode()))
		}
		lf := oci.LayerFile{Path: path}
		if o.Type == oci.TypePlugin {
			lf.Platform = o.Platforms[i]
			if p := (platformOptions{Platform: lf.Platform}); p.Validate() != nil {
				return cfg, nil, fmt.Errorf("--platform %q: want OS/ARCH", lf.Platform)
			}
		}
		files = append(files, lf)
	}
	if o.Type == oci.TypeRulesfile && len(o.Files) == 1 {
		if err := mergeRulesRequirements(ctx, &cfg, o.Files[0]); err != nil {
			return cfg, nil, err
		}
	}
	return cfg, files, nil
}

// mergeRulesRequirements adds what a plain rules file declares
// (required_plugin_versions, required_engine_version) to cfg, as falcoctl
// does; dependencies and requirements given as flags win by name.
// The file is read as a stream: only the items that declare requirements
// are parsed.
func mergeRulesRequirements(ctx context.Context, cfg *oci.Config, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		return nil // an archive: its content is the publisher's business
	}
	deps, reqs, err := oci.RulesRequirementsFrom(ctx, br)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, d := range deps {
		if !slices.ContainsFunc(cfg.Dependencies, func(x oci.Dependency) bool { return x.Name == d.Name }) {
			cfg.Dependencies = append(cfg.Dependencies, d)
		}
	}
	for _, r := range reqs {
		if !slices.ContainsFunc(cfg.Requirements, func(x oci.Requirement) bool { return x.Name == r.Name }) {
			cfg.Requirements = append(cfg.Requirements, r)
		}
	}
	return nil
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

// fileKind names what a file that is not a regular one is.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "a special file (" + m.Type().String() + ")"
}
