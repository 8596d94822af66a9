package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
)

// versionView is the JSON (and YAML) shape of version.
type versionView struct {
	Version   string `json:"version" yaml:"version"`
	GoVersion string `json:"goVersion" yaml:"goVersion"`
	Platform  string `json:"platform" yaml:"platform"`
	Commit    string `json:"commit,omitempty" yaml:"commit,omitempty"`
}

// falcoctlVersion is falcoctl's version document, printed in falcoctl mode.
// Its YAML keys are what yaml.v3 makes of falcoctl's untagged fields.
type falcoctlVersion struct {
	SemVersion string `json:"semVersion" yaml:"semversion"`
	GitCommit  string `json:"gitCommit" yaml:"gitcommit"`
	BuildDate  string `json:"buildDate" yaml:"builddate"`
	GoVersion  string `json:"goVersion" yaml:"goversion"`
	Compiler   string `json:"compiler" yaml:"compiler"`
	Platform   string `json:"platform" yaml:"platform"`
}

// versionOutput is version's own -o/--output: the global text|json, plus
// yaml as falcoctl's version has it. It shadows the global flag on this
// command and keeps the global option in step for text and json.
type versionOutput struct {
	f     *cmdutil.Factory
	value string
}

func (o *versionOutput) String() string { return o.value }
func (o *versionOutput) Type() string   { return "string" }
func (o *versionOutput) Set(s string) error {
	switch s {
	case "text", "json":
		o.f.Global.Output = s
	case "yaml":
	default:
		return fmt.Errorf("--output must be text, json or yaml, not %q", s)
	}
	o.value = s
	return nil
}

// VersionOptions are the dependencies and flag values of version.
type VersionOptions struct {
	IO      cmdutil.IOStreams
	Version string
	// Format is version's own --output: text, json or yaml.
	Format   string
	Falcoctl bool
	// BuildInfo reads the binary's build settings (vcs.revision, vcs.time).
	BuildInfo func() (*debug.BuildInfo, bool)
}

// NewCmdVersion builds version. runF, when not nil, receives the parsed
// options instead of versionRun (tests use it).
func NewCmdVersion(f *cmdutil.Factory, runF func(*VersionOptions) error) *cobra.Command {
	out := &versionOutput{f: f, value: "text"}
	opts := &VersionOptions{Version: f.Version, BuildInfo: debug.ReadBuildInfo}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print ferry's version",
		Example: `  ferry version
  ferry version -o json
  ferry version -o yaml`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.IO, opts.Format, opts.Falcoctl = f.IO, out.value, f.Falcoctl
			if runF != nil {
				return runF(opts)
			}
			return versionRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().VarP(out, "output", "o", "output format: text, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions("text", "json", "yaml"))
	return cmd
}

func versionRun(_ context.Context, opts *VersionOptions) error {
	v := versionView{Version: opts.Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	buildDate := ""
	if bi, ok := opts.BuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.time":
				buildDate = s.Value
			}
		}
	}
	if opts.Falcoctl {
		return printFalcoctlVersion(opts.IO.Out, opts.Format, falcoctlVersion{
			SemVersion: v.Version, GitCommit: v.Commit, BuildDate: buildDate,
			GoVersion: v.GoVersion, Compiler: runtime.Compiler, Platform: v.Platform,
		})
	}
	switch opts.Format {
	case "json":
		return printJSON(opts.IO.Out, v)
	case "yaml":
		data, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = opts.IO.Out.Write(data)
		return err
	}
	_, err := fmt.Fprintf(opts.IO.Out, "ferry %s (%s, %s)\n", v.Version, v.GoVersion, v.Platform)
	return err
}

// printFalcoctlVersion prints falcoctl v0.13's version output, byte for byte.
func printFalcoctlVersion(out io.Writer, format string, v falcoctlVersion) error {
	var err error
	switch format {
	case "yaml":
		var data []byte
		if data, err = yaml.Marshal(v); err == nil {
			_, err = fmt.Fprintf(out, "Client Version:\n%s\n", data)
		}
	case "json":
		var data []byte
		if data, err = json.MarshalIndent(v, "", "   "); err == nil {
			_, err = fmt.Fprintf(out, "Client Version:\n%s \n", data)
		}
	default:
		_, err = fmt.Fprintf(out, "Client Version: %s\n", v.SemVersion)
	}
	return err
}
