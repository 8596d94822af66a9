package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

type mirrorOptions struct {
	resolveOptions
	Dir            string
	Template       string
	PluginTemplate string
}

func newCmdArtifactMirror(f *cmdutil.Factory) *cobra.Command {
	opts := &mirrorOptions{}
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
			if opts.Dir == "" {
				return cmdutil.Usage(errors.New("-O DIR is required"))
			}
			p, plan, err := planFresh(cmd, f, &opts.resolveOptions, args)
			if err != nil {
				return err
			}
			files, err := p.Mirror(cmd.Context(), plan, opts.Dir, func(typ string) string {
				if typ == oci.TypePlugin {
					return opts.PluginTemplate
				}
				return opts.Template
			})
			if err != nil {
				return err
			}
			if f.Global.JSON() {
				return f.PrintJSON(map[string]any{"dir": opts.Dir, "files": files})
			}
			for _, m := range files {
				fmt.Fprintf(f.IO.Out, "Mirrored %s %s as %s (%s)\n", m.Name, m.Version, m.Path, m.Digest)
			}
			return nil
		},
	}
	opts.resolveOptions.AddFlags(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&opts.Dir, "output-dir", "O", "", "the mirror directory to write")
	fl.StringVar(&opts.Template, "template", install.MirrorTemplate, "file name of rules files and assets, relative to DIR ({name} {version} {os} {arch} {machine} {ext})")
	fl.StringVar(&opts.PluginTemplate, "plugin-template", install.MirrorPluginTemplate, "file name of plugins, relative to DIR")
	return cmd
}
