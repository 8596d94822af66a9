package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// MirrorOptions are the dependencies and flag values of artifact mirror.
type MirrorOptions struct {
	commandDeps
	resolveOptions
	Refs           []string
	Dir            string
	Template       string
	PluginTemplate string
}

// mirrorView is the JSON shape of artifact mirror.
type mirrorView struct {
	Dir   string         `json:"dir"`
	Files []mirroredFile `json:"files"`
}

// mirroredFile is one file written into the mirror directory.
type mirroredFile struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Platform string `json:"platform,omitempty"`
	// Path is relative to the mirror directory, with /.
	Path   string `json:"path"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// NewCmdMirror builds artifact mirror. runF, when not nil, receives the
// parsed and validated options instead of mirrorRun (tests use it).
func NewCmdMirror(f *cmdutil.Factory, runF func(*MirrorOptions) error) *cobra.Command {
	opts := &MirrorOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "mirror REF... -O DIR",
		Short: "Write artifacts as plain files with a SHA256SUMS, for an HTTP mirror",
		Long: `Write the layer of each resolved artifact and its dependencies (of a plugin,
every platform its image index lists) into DIR as a plain .tar.gz file, with a
FILE.sha256 sidecar, and add them to the SHA256SUMS of their directory
(entries already there are kept, so runs accumulate versions).

Any static file server serving DIR at BASE is then an HTTP mirror: list it in
an index entry as

  mirrors:
    - url: BASE/{name}-{version}.{ext}          # --template
    - url: BASE/{name}-{version}-{os}-{machine}.{ext}   # --plugin-template, for plugins

and ferry reads versions from its SHA256SUMS and verifies every file against it
when no registry answers. The default names are download.falco.org's.`,
		Example: `  ferry artifact mirror falco-rules:3 k8saudit-rules -O /srv/falco-mirror
  python3 -m http.server -d /srv/falco-mirror 8080`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Refs = f.IO, args
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return mirrorRun(cmd.Context(), opts)
		},
	}
	opts.resolveOptions.AddFlags(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&opts.Dir, "output-dir", "O", "", "the mirror directory to write")
	fl.StringVar(&opts.Template, "template", install.MirrorTemplate, "file name of rules files and assets, relative to DIR ({name} {version} {os} {arch} {machine} {ext})")
	fl.StringVar(&opts.PluginTemplate, "plugin-template", install.MirrorPluginTemplate, "file name of plugins, relative to DIR")
	return cmd
}

// Validate checks the flag values before anything is resolved.
func (o *MirrorOptions) Validate() error {
	if o.Dir == "" {
		return cmdutil.Usage(errors.New("-O DIR is required"))
	}
	return nil
}

func mirrorRun(ctx context.Context, opts *MirrorOptions) error {
	p, plan, err := planFresh(ctx, opts.commandDeps, &opts.resolveOptions, opts.Refs)
	if err != nil {
		return err
	}
	files, err := p.Mirror(ctx, plan, opts.Dir, func(typ string) string {
		if typ == oci.TypePlugin {
			return opts.PluginTemplate
		}
		return opts.Template
	})
	if err != nil {
		return err
	}
	if opts.Global.JSON() {
		v := mirrorView{Dir: opts.Dir}
		if files != nil {
			v.Files = make([]mirroredFile, 0, len(files))
		}
		for _, m := range files {
			v.Files = append(v.Files, mirroredFile{Name: m.Name, Version: m.Version, Platform: m.Platform, Path: m.Path, Digest: m.Digest, Size: m.Size})
		}
		return printJSON(opts.IO.Out, v)
	}
	for _, m := range files {
		fmt.Fprintf(opts.IO.Out, "Mirrored %s %s as %s (%s)\n", m.Name, m.Version, m.Path, m.Digest)
	}
	return nil
}
