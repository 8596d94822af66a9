package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
)

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

func newCmdVersion(f *cmdutil.Factory) *cobra.Command {
	out := &versionOutput{f: f, value: "text"}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print ferry's version",
		Example: `  ferry version
  ferry version -o json
  ferry version -o yaml`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := versionView{Version: f.Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			buildDate := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					switch s.Key {
					case "vcs.revision":
						v.Commit = s.Value
					case "vcs.time":
						buildDate = s.Value
					}
				}
			}
			if f.Falcoctl {
				return printFalcoctlVersion(f, out.value, falcoctlVersion{
					SemVersion: v.Version, GitCommit: v.Commit, BuildDate: buildDate,
					GoVersion: v.GoVersion, Compiler: runtime.Compiler, Platform: v.Platform,
				})
			}
			switch out.value {
			case "json":
				return f.PrintJSON(v)
			case "yaml":
				data, err := yaml.Marshal(v)
				if err != nil {
					return err
				}
				_, err = f.IO.Out.Write(data)
				return err
			}
			_, err := fmt.Fprintf(f.IO.Out, "ferry %s (%s, %s)\n", v.Version, v.GoVersion, v.Platform)
			return err
		},
	}
	cmd.Flags().VarP(out, "output", "o", "output format: text, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions("text", "json", "yaml"))
	return cmd
}

// printFalcoctlVersion prints falcoctl v0.13's version output, byte for byte.
func printFalcoctlVersion(f *cmdutil.Factory, format string, v falcoctlVersion) error {
	var err error
	switch format {
	case "yaml":
		var data []byte
		if data, err = yaml.Marshal(v); err == nil {
			_, err = fmt.Fprintf(f.IO.Out, "Client Version:\n%s\n", data)
		}
	case "json":
		var data []byte
		if data, err = json.MarshalIndent(v, "", "   "); err == nil {
			_, err = fmt.Fprintf(f.IO.Out, "Client Version:\n%s \n", data)
		}
	default:
		_, err = fmt.Fprintf(f.IO.Out, "Client Version: %s\n", v.SemVersion)
	}
	return err
}
