package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/index"
)

// registry push and registry pull take falcoctl's arguments and flags; push
// is artifact push underneath, pull writes the layer file as falcoctl does.

// NewCmdRegistryPush builds registry push over artifact push's options.
// runF, when not nil, receives the parsed and validated options instead of
// pushRun (tests use it).
func NewCmdRegistryPush(f *cmdutil.Factory, runF func(*PushOptions) error) *cobra.Command {
	opts := &PushOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "push HOST/REPO[:TAG] FILE... --type T --version X.Y.Z",
		Short: "Publish an artifact with falcoctl's registry push arguments (artifact push underneath)",
		Long: `Publish an artifact with falcoctl's registry push arguments; it is ferry artifact
push underneath, in the same OCI format. The artifact is always tagged with
--version; also with TAG (falcoctl's ":latest" in HOST/REPO:latest) and every
--tag. A REF without a tag and no --tag also tags "latest", as falcoctl
does, except when a higher version is in the repository (latest never moves
back). --add-floating-tags adds X.Y and X (also never moved back),
--annotation-source is written as org.opencontainers.image.source. A plain
rules file's required_plugin_versions and required_engine_version become
dependencies and requirements when not given as flags. REF may also name an
index entry, as for artifact push.`,
		Example: `  ferry registry push --type rulesfile --version 0.1.2 localhost:5000/myrules:latest myrules.yaml
  ferry registry push --type plugin --version 1.2.3 localhost:5000/myplugin:latest \
      myplugin-x86_64.tar.gz --platform linux/amd64 myplugin-arm64.tar.gz --platform linux/arm64
  ferry registry push --type rulesfile --version 0.1.2 localhost:5000/myrules myrules.yaml \
      --add-floating-tags -d myplugin:1.2.3 -r engine_version_semver:0.31.0`,
		Args: usageArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref, opts.Files = args[0], args[1:]
			ref, err := index.ParseReference(opts.Ref)
			if err != nil {
				return err
			}
			if ref.Digest != "" {
				return cmdutil.Usage(errors.New("push needs HOST/REPO[:TAG], not a digest"))
			}
			if ref.IsOCI() {
				if ref.Tag != "" && ref.Tag != opts.Version {
					opts.ExtraTags = append([]string{ref.Tag}, opts.ExtraTags...)
				}
				opts.Latest = ref.Tag == "" && len(opts.ExtraTags) == 0
				opts.Ref = ref.Registry + "/" + ref.Repository
			}
			if opts.Version == "" {
				return cmdutil.Usage(errors.New("--version is required"))
			}
			opts.annotationOnly = true
			opts.IO = f.IO
			if runF != nil {
				return runF(opts)
			}
			return pushRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Type, "type", "", "artifact type: rulesfile, plugin or asset")
	fl.StringVar(&opts.Version, "version", "", "version, strict semver X.Y.Z")
	fl.StringVar(&opts.Name, "name", "", "name written in the config (default: the last element of the repository)")
	fl.StringArrayVar(&opts.Platforms, "platform", nil, "OS/ARCH of each plugin FILE, in order (repeatable)")
	fl.StringArrayVarP(&opts.ExtraTags, "tag", "t", nil, "another tag for the artifact (repeatable)")
	fl.BoolVar(&opts.FloatingTags, "add-floating-tags", false, "also tag X.Y and X, unless a higher version holds them")
	fl.StringArrayVarP(&opts.DependsOn, "depends-on", "d", nil, "dependency NAME:VER[|ALT:VER...] (repeatable)")
	fl.StringArrayVarP(&opts.Requires, "requires", "r", nil, "requirement NAME:VER, e.g. plugin_api_version:3.0.0 (repeatable)")
	fl.StringVar(&opts.SourceRepo, "annotation-source", "", "source repository URL, written as org.opencontainers.image.source")
	fl.StringVar(&opts.StateDir, "state-dir", "/var/lib/ferry", "directory of ferry's state (events that could not be delivered are spooled there)")
	opts.eventsOptions.AddFlags(cmd)
	return cmd
}

// pullOutput is registry pull's -o: falcoctl's short form of --dest-dir,
// except that text and json keep their meaning as ferry's output format.
type pullOutput struct {
	f   *cmdutil.Factory
	dir *string
	val string
}

func (o *pullOutput) String() string { return o.val }
func (o *pullOutput) Type() string   { return "string" }
func (o *pullOutput) Set(s string) error {
	switch s {
	case "text", "json":
		o.f.Global.Output = s
	default:
		*o.dir = s
	}
	o.val = s
	return nil
}

// PullOptions are the dependencies and flag values of registry pull.
type PullOptions struct {
	commandDeps
	platformOptions
	Ref     string
	DestDir string
}

// pullView is the JSON shape of registry pull: the file written.
type pullView struct {
	Name       string `json:"name"`
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	Version    string `json:"version,omitempty"`
	Type       string `json:"type"`
	Platform   string `json:"platform,omitempty"`
	// Digest is the root manifest's (or image index's) digest; LayerDigest
	// the file's.
	Digest      string `json:"digest"`
	LayerDigest string `json:"layerDigest"`
	Size        int64  `json:"size"`
	Path        string `json:"path"`
}

// NewCmdRegistryPull builds registry pull. runF, when not nil, receives
// the parsed and validated options instead of pullRun (tests use it).
func NewCmdRegistryPull(f *cmdutil.Factory, runF func(*PullOptions) error) *cobra.Command {
	opts := &PullOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "pull REF [--dest-dir DIR] [--platform OS/ARCH]",
		Short: "Download an artifact's layer file (.tar.gz) into a directory, as falcoctl's registry pull",
		Long: `Download an artifact's layer, the .tar.gz as the registry stores it (not
unpacked), into --dest-dir (default: the current directory) under the name
its title annotation gives, as falcoctl's registry pull does. The file is
verified against its digest and replaced atomically; nothing is installed
and no state is written. REF is resolved as install resolves it (an index
name, a constraint, a full OCI reference; no tag means the highest version,
not "latest"). For a plugin, the file of --platform.

-o DIR is falcoctl's short form of --dest-dir; -o text and -o json still
choose the output format (write -o ./json for a directory named json).`,
		Example: `  ferry registry pull localhost:5000/myplugin:latest --platform linux/arm64 --dest-dir ./myDir
  ferry registry pull falco-rules:3 -o /tmp/rules`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Ref = f.IO, args[0]
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return pullRun(cmd.Context(), opts)
		},
	}
	opts.platformOptions.AddFlags(cmd)
	cmd.Flags().StringVar(&opts.DestDir, "dest-dir", "", "directory to write the file into (default: the current directory)")
	cmd.Flags().VarP(&pullOutput{f: f, dir: &opts.DestDir, val: "text"}, "output", "o", "DIR, as --dest-dir (falcoctl), or the output format text or json")
	return cmd
}

func pullRun(ctx context.Context, opts *PullOptions) error {
	resolver, err := newResolver(ctx, opts.commandDeps, opts.Platform)
	if err != nil {
		return err
	}
	res, err := resolver.Pull(ctx, opts.Ref, opts.DestDir)
	if err != nil {
		return err
	}
	if opts.Global.JSON() {
		return printJSON(opts.IO.Out, pullView{
			Name: res.Name, Registry: res.Registry, Repository: res.Repository, Tag: res.Tag, Version: res.Version, Type: res.Type,
			Platform: res.Platform, Digest: res.Digest, LayerDigest: res.LayerDigest, Size: res.Size, Path: res.Path,
		})
	}
	what := res.Name
	if res.Version != "" {
		what += " " + res.Version
	} else if res.Tag != "" {
		what += ":" + res.Tag
	}
	out := opts.IO.Out
	fmt.Fprintf(out, "Pulled %s (%s) from %s/%s\n  digest: %s\n  file:   %s\n", what, res.Type, res.Registry, res.Repository, res.Digest, res.Path)
	if res.Platform != "" {
		fmt.Fprintf(out, "  platform: %s\n", res.Platform)
	}
	return nil
}
