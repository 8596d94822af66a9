package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// dirOptions is the flag group naming where artifacts and state go.
type dirOptions struct {
	RulesfilesDir string
	PluginsDir    string
	AssetsDir     string
	StateDir      string
}

func (d *dirOptions) AddFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&d.RulesfilesDir, "rulesfiles-dir", "/etc/falco", "directory for rules files")
	fl.StringVar(&d.PluginsDir, "plugins-dir", "/usr/share/falco/plugins", "directory for plugins")
	fl.StringVar(&d.AssetsDir, "assets-dir", "/etc/falco/assets", "directory for assets")
	fl.StringVar(&d.StateDir, "state-dir", "/var/lib/ferry", "directory for ferry's install state")
}

func (d *dirOptions) Validate() error {
	for flag, v := range map[string]string{"rulesfiles-dir": d.RulesfilesDir, "plugins-dir": d.PluginsDir, "assets-dir": d.AssetsDir, "state-dir": d.StateDir} {
		if strings.TrimSpace(v) == "" {
			return cmdutil.Usage(fmt.Errorf("--%s must not be empty", flag))
		}
	}
	return nil
}

func (d *dirOptions) ByType() map[string]string {
	return map[string]string{oci.TypeRulesfile: d.RulesfilesDir, oci.TypePlugin: d.PluginsDir, oci.TypeAsset: d.AssetsDir}
}

type installOptions struct {
	dirOptions
	platformOptions
	Refs         []string
	AllowedTypes []string
	DryRun       bool
	Concurrency  int
	MaxSize      int64
}

func newCmdArtifactInstall(f *cmdutil.Factory) *cobra.Command {
	opts := &installOptions{}
	cmd := &cobra.Command{
		Use:   "install REF...",
		Short: "Install artifacts at the highest version their constraint allows",
		Long: `Install artifacts at the highest version their constraint allows.

REF is NAME, NAME:CONSTRAINT, INDEX/NAME:CONSTRAINT, NAME@sha256:HEX or a full
OCI reference HOST/REPO:TAG or HOST/REPO@sha256:HEX. CONSTRAINT is a semver
constraint: 1.x, ~1.2, ^1.2.3, ">=1.0.0 <2.0.0", 1, 1.2, 1.2.3 or latest; none
means the highest stable version. Pre-releases are picked only when the
constraint names one.

Every blob is verified against its digest while it streams; the layer is
unpacked into a staging directory beside the destination and swapped in
atomically. An artifact already installed at the same digest is not
downloaded again.`,
		Example: `  ferry artifact install falco-rules:3
  ferry artifact install rules:1.x --rulesfiles-dir ./rules --state-dir ./state
  ferry artifact install k8saudit:0.x k8saudit-rules --platform linux/arm64 -o json`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Refs = args
			return installRun(cmd, f, opts)
		},
	}
	opts.dirOptions.AddFlags(cmd)
	opts.platformOptions.AddFlags(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.AllowedTypes, "allowed-types", nil, "install only these types (comma-separated: rulesfile,plugin,asset)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "resolve and show what would be installed, without downloading or writing")
	fl.IntVar(&opts.Concurrency, "concurrency", 4, "artifacts fetched at once")
	fl.Int64Var(&opts.MaxSize, "max-size", install.DefaultLimits().MaxBytes, "refuse artifacts that unpack to more than this many bytes")
	return cmd
}

func installRun(cmd *cobra.Command, f *cmdutil.Factory, opts *installOptions) error {
	if err := opts.dirOptions.Validate(); err != nil {
		return err
	}
	if err := opts.platformOptions.Validate(); err != nil {
		return err
	}
	for _, t := range opts.AllowedTypes {
		if err := oci.ValidType(t); err != nil {
			return cmdutil.Usage(fmt.Errorf("--allowed-types: %w", err))
		}
	}
	if opts.Concurrency < 1 {
		return cmdutil.Usage(errors.New("--concurrency must be at least 1"))
	}
	if opts.MaxSize < 1 {
		return cmdutil.Usage(errors.New("--max-size must be positive"))
	}
	resolver, err := newResolver(f, cmd, opts.Platform)
	if err != nil {
		return err
	}
	limits := install.DefaultLimits()
	limits.MaxBytes = opts.MaxSize
	in := &install.Installer{
		Resolver:     resolver,
		Store:        &install.Store{StateDir: opts.StateDir, Limits: limits},
		Dirs:         opts.ByType(),
		AllowedTypes: opts.AllowedTypes,
		Concurrency:  opts.Concurrency,
		DryRun:       opts.DryRun,
	}
	results, err := in.Install(cmd.Context(), opts.Refs)
	if f.Global.JSON() {
		if results == nil {
			results = []install.Result{}
		}
		if perr := f.PrintJSON(results); perr != nil {
			return perr
		}
	} else {
		for _, r := range results {
			printResult(f, r)
		}
	}
	return err
}

func printResult(f *cmdutil.Factory, r install.Result) {
	out := f.IO.Out
	name := r.Name
	if r.Index != "" {
		name = r.Index + "/" + r.Name
	}
	switch r.Status {
	case install.StatusUpToDate:
		fmt.Fprintf(out, "%s %s (%s) is up to date in %s\n", name, r.Version, r.Type, r.Dir)
		fmt.Fprintf(out, "  digest  %s\n", r.Digest)
		return
	case install.StatusWouldUpdate:
		fmt.Fprintf(out, "Would install %s %s (%s) into %s (%d bytes)\n", name, r.Version, r.Type, r.Dir, r.Bytes)
	default:
		if r.PreviousVersion != "" && r.PreviousVersion != r.Version {
			fmt.Fprintf(out, "Updated %s %s → %s (%s)\n", name, r.PreviousVersion, r.Version, r.Type)
		} else {
			fmt.Fprintf(out, "Installed %s %s (%s)\n", name, r.Version, r.Type)
		}
	}
	from := fmt.Sprintf("%s/%s:%s", r.Registry, r.Repository, r.Tag)
	if r.Tag == "" {
		from = fmt.Sprintf("%s/%s@%s", r.Registry, r.Repository, r.Digest)
	}
	if r.Constraint != "" {
		fmt.Fprintf(out, "  picked  %s for constraint %q\n", r.Version, r.Constraint)
	}
	fmt.Fprintf(out, "  from    %s\n", from)
	fmt.Fprintf(out, "  digest  %s\n", r.Digest)
	if r.Platform != "" {
		fmt.Fprintf(out, "  platform %s\n", r.Platform)
	}
	for _, file := range r.Files {
		fmt.Fprintf(out, "  file    %s\n", filepath.Join(r.Dir, file))
	}
}
