package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/install"
)

func newCmdConfig(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the effective configuration, and set values in the config file",
		Long: `The configuration comes from, highest first: flags, FERRY_<FLAG_NAME>
environment variables, the config file (--config, FERRY_CONFIG, default
$XDG_CONFIG_HOME/ferry/config.yaml), and built-in defaults.

` + configKeysHelp,
	}
	cmd.AddCommand(NewCmdConfigView(f, nil), NewCmdConfigSet(f, nil), NewCmdConfigUnset(f, nil))
	return cmd
}

var configKeysHelp = cmdutil.KeysHelp()

// configValue is one key of the effective configuration.
type configValue struct {
	Key    string `json:"key" yaml:"key"`
	Value  string `json:"value" yaml:"value"`
	Source string `json:"source" yaml:"source"`
}

// configView is the JSON (and YAML) shape of config view.
type configView struct {
	File       string        `json:"file" yaml:"file"`
	FileSource string        `json:"fileSource" yaml:"fileSource"`
	FileExists bool          `json:"fileExists" yaml:"fileExists"`
	Values     []configValue `json:"values" yaml:"values"`
}

// flagState is a flag of the command tree as config view reports it:
// its definition, and whether this command line set it.
type flagState struct {
	Flag    *pflag.Flag
	Changed bool
	Value   string
}

// ConfigViewOptions are the dependencies and flag values of config view.
type ConfigViewOptions struct {
	commandDeps
	ConfigPath func() string
	// Resolve finds where a flag's value comes from below the command line
	// (Factory.Resolve).
	Resolve func(cfg *cmdutil.Config, path string, fl *pflag.Flag) (cmdutil.Resolved, bool)
	// Output is view's own format: text, json or yaml.
	Output string
	// ConfigFlag says --config was given; Flags are every flag of the
	// command tree, one per name; Path is the command's path.
	ConfigFlag bool
	Flags      []flagState
	Path       string
	Falcoctl   bool
}

// NewCmdConfigView builds config view. runF, when not nil, receives the
// parsed and validated options instead of configViewRun (tests use it).
func NewCmdConfigView(f *cmdutil.Factory, runF func(*ConfigViewOptions) error) *cobra.Command {
	opts := &ConfigViewOptions{commandDeps: newCommandDeps(f), ConfigPath: f.ConfigPath, Resolve: f.Resolve}
	cmd := &cobra.Command{
		Use:   "view",
		Short: "Show every configuration key with its value and where the value came from",
		Long: `Show the effective configuration: the config file in use, its indexes,
registries, engine and events settings, and the value of every flag default
(defaults.FLAG) with its source: a flag on this command line, an environment
variable (FERRY_<FLAG_NAME>), the config file, or the built-in default.
Passwords and header values are not shown.`,
		Example: `  ferry config view
  FERRY_STATE_DIR=/tmp/state ferry config view -o yaml
  ferry config view --config ./ferry.yaml -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.IO, opts.Falcoctl = f.IO, f.Falcoctl
			if !slices.Contains([]string{"text", "json", "yaml"}, opts.Output) {
				return cmdutil.Usage(fmt.Errorf("--output must be text, json or yaml, not %q", opts.Output))
			}
			opts.ConfigFlag, opts.Path, opts.Flags = cmd.Flags().Changed("config"), cmdutil.CommandPath(cmd), nil
			for _, fl := range flagsByName(cmd.Root()) {
				st := flagState{Flag: fl}
				if mine := cmd.Flags().Lookup(fl.Name); mine != nil && mine.Changed {
					st.Changed, st.Value = true, mine.Value.String()
				}
				opts.Flags = append(opts.Flags, st)
			}
			if runF != nil {
				return runF(opts)
			}
			return configViewRun(cmd.Context(), opts)
		},
	}
	// view prints YAML too, so it has its own --output (text, json or yaml).
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions("text", "json", "yaml"))
	return cmd
}

func configViewRun(_ context.Context, opts *ConfigViewOptions) error {
	v, err := effectiveConfig(opts)
	if err != nil {
		return err
	}
	out := opts.IO.Out
	switch opts.Output {
	case "json":
		return printJSON(out, v)
	case "yaml":
		enc := yaml.NewEncoder(out)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return err
		}
		return enc.Close()
	}
	exists := ""
	if !v.FileExists {
		exists = ", does not exist"
	}
	fmt.Fprintf(out, "Config file: %s (%s%s)\n\n", v.File, v.FileSource, exists)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, kv := range v.Values {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", kv.Key, kv.Value, kv.Source)
	}
	return tw.Flush()
}

// effectiveConfig resolves every key the way commands do.
func effectiveConfig(opts *ConfigViewOptions) (*configView, error) {
	cfg, err := opts.ConfigFile()
	if err != nil {
		return nil, err
	}
	v := &configView{File: opts.ConfigPath(), FileSource: "default"}
	switch {
	case opts.ConfigFlag:
		v.FileSource = "flag --config"
	case opts.Getenv("FERRY_CONFIG") != "":
		v.FileSource = "env FERRY_CONFIG"
	}
	if _, err := os.Stat(v.File); err == nil {
		v.FileExists = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	file := "config " + v.File
	add := func(key, value, source string) { v.Values = append(v.Values, configValue{key, value, source}) }
	fileValues(cfg, file, opts.Falcoctl, add)
	for _, st := range opts.Flags {
		fl := st.Flag
		if fl.Name == "config" {
			continue
		}
		value, source := fl.DefValue, "default"
		if st.Changed && fl.Name != "output" {
			value, source = st.Value, "flag --"+fl.Name
		} else if r, ok := opts.Resolve(cfg, opts.Path, fl); ok {
			value = strings.Join(r.Values, ",")
			switch {
			case r.Key == "":
				source = "env " + r.From
			case strings.HasPrefix(r.Key, "defaults."):
				source = file
			default:
				source = file + " (" + r.Key + ")"
			}
		}
		if k := cmdutil.FlagKey(fl.Name); (strings.Contains(fl.Name, "password") || (k != nil && k.Secret)) && source != "default" {
			value = "(not shown)"
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok && source == "default" {
			value = strings.Join(sv.GetSlice(), ",")
		}
		add("defaults."+fl.Name, value, source)
	}
	return v, nil
}

// fileValues adds what the config file sets outside defaults: indexes,
// registries, engine, events and falcoctl's keys.
func fileValues(cfg *cmdutil.Config, file string, falcoctl bool, add func(key, value, source string)) {

	// As falcoctl, configured indexes replace the embedded one (as Indexes does).
	shadowed := falcoctl && len(cfg.Indexes) > 0
	for _, ic := range cfg.Indexes {
		add("indexes."+ic.Name, ic.URL, file)
		shadowed = shadowed || ic.Name == cmdutil.DefaultIndexName
	}
	if !shadowed {
		add("indexes."+cmdutil.DefaultIndexName, "embedded", "default")
	}
	for _, r := range cfg.Registries {
		p := "registries." + r.Host + "."
		if r.PlainHTTP != nil {
			add(p+"plainHTTP", strconv.FormatBool(*r.PlainHTTP), file)
		}
		if r.CAFile != "" {
			add(p+"caFile", r.CAFile, file)
		}
		if r.InsecureSkipTLSVerify {
			add(p+"insecureSkipTLSVerify", "true", file)
		}
		if len(r.Mirrors) > 0 {
			add(p+"mirrors", strings.Join(r.Mirrors, ","), file)
		}
		if r.FallbackOnly {
			add(p+"fallbackOnly", "true", file)
		}
	}
	for _, name := range sortedKeys(cfg.Engine.Versions) {
		add("engine.versions."+name, cfg.Engine.Versions[name], file)
	}
	fields := func(prefix string) {
		for _, k := range cmdutil.Keys {
			if k.Field != nil && strings.HasPrefix(k.Name, prefix) && *k.Field(cfg) != "" {
				add(k.Name, *k.Field(cfg), file)
			}
		}
	}
	fields("engine.")
	for i, s := range cfg.Events.Sinks {
		p := fmt.Sprintf("events.sinks[%d].", i)
		add(p+"url", s.URL, file)
		for _, h := range sortedKeys(s.Headers) {
			add(p+"headers."+h, "(not shown)", file)
		}
		if s.Binary {
			add(p+"binary", "true", file)
		}
	}
	fields("events.")

	for _, k := range cmdutil.Keys {
		if !k.FalcoctlKey || strings.HasPrefix(k.Name, "indexes") {
			continue
		}
		if k.Kind == cmdutil.KindSection {
			if vals, _, ok := cfg.Value(k.Name); ok || hasSection(cfg, k.Name) {
				add(k.Name, fmt.Sprintf("(%d entries, not shown)", max(len(vals), sectionLen(cfg, k.Name))), file)
			}
			continue
		}
		if strings.Contains(k.Name, "[]") {
			continue
		}
		if vals, _, ok := cfg.Value(k.Name); ok {
			add(k.Name, strings.Join(vals, ","), file)
		}
	}
}

// flagsByName returns one flag per name across the command tree, sorted.
// A flag whose default differs between commands shows it as "(per command)".
func flagsByName(root *cobra.Command) []*pflag.Flag {
	byName := map[string]*pflag.Flag{}
	walk(root, func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			if fl.Hidden || fl.Name == "help" || fl.Name == "version" || cmdutil.IsAlias(fl) {
				return
			}
			if prev, ok := byName[fl.Name]; ok {
				if prev.DefValue != fl.DefValue {
					cp := *prev
					cp.DefValue = "(per command)"
					cp.Value = perCommand{}
					byName[fl.Name] = &cp
				}
				return
			}
			byName[fl.Name] = fl
		})
	})
	out := make([]*pflag.Flag, 0, len(byName))
	for _, name := range sortedKeys(byName) {
		out = append(out, byName[name])
	}
	return out
}

// perCommand stands for the value of a flag whose default depends on the
// command.
type perCommand struct{}

func (perCommand) String() string     { return "(per command)" }
func (perCommand) Set(string) error   { return nil }
func (perCommand) Type() string       { return "string" }
func (perCommand) GetSlice() []string { return []string{"(per command)"} }

// hasSection and sectionLen tell whether a section of records (such as
// registry.auth.basic) is in the file, and how many records it has.
func hasSection(cfg *cmdutil.Config, key string) bool { return sectionLen(cfg, key) > 0 }

func sectionLen(cfg *cmdutil.Config, key string) int {
	auth, err := cfg.Auth()
	if err != nil {
		return 0
	}
	switch key {
	case "registry.auth.basic":
		return len(auth.Basic)
	case "registry.auth.oauth":
		return len(auth.OAuth)
	case "registry.auth.gcp":
		return len(auth.GCP)
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// configSetView is the JSON shape of config set and config unset; Value
// is left out by unset.
type configSetView struct {
	File  string  `json:"file"`
	Key   string  `json:"key"`
	Value *string `json:"value,omitempty"`
}

// ConfigSetOptions are the dependencies and arguments of config set and
// config unset.
type ConfigSetOptions struct {
	commandDeps
	ConfigPath func() string
	// LookupFlag finds a flag of the command tree by name, unbound to this
	// run's flags, so that a value can be checked by parsing it.
	LookupFlag func(name string) *pflag.Flag
	Key        string
	// Value is nil for unset.
	Value *string
}

func newConfigSetOptions(f *cmdutil.Factory) *ConfigSetOptions {
	return &ConfigSetOptions{commandDeps: newCommandDeps(f), ConfigPath: f.ConfigPath, LookupFlag: func(name string) *pflag.Flag { return freshFlag(f, name) }}
}

// NewCmdConfigSet builds config set. runF, when not nil, receives the
// parsed options instead of configSetRun (tests use it).
func NewCmdConfigSet(f *cmdutil.Factory, runF func(*ConfigSetOptions) error) *cobra.Command {
	opts := newConfigSetOptions(f)
	return &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Set a key in the config file",
		Long: `Set KEY to VALUE in the config file, which is written atomically (and
created with its directory if needed). The value is checked as the command
reading it would: a flag default must parse as that flag's value.

` + configKeysHelp,
		Example: `  ferry config set defaults.rulesfiles-dir /srv/falco/rules
  ferry config set defaults.plain-http true
  ferry config set engine.versions.engine_version_semver 0.41.0
  ferry config set registries.registry.internal:5000.caFile /etc/ssl/internal-ca.pem
  ferry config set events.timeout 5s`,
		Args:              usageArgs(cobra.ExactArgs(2)),
		ValidArgsFunction: completeConfigKeys,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Key, opts.Value = f.IO, args[0], &args[1]
			if runF != nil {
				return runF(opts)
			}
			return configSetRun(cmd.Context(), opts)
		},
	}
}

// NewCmdConfigUnset builds config unset. runF, when not nil, receives the
// parsed options instead of configSetRun (tests use it).
func NewCmdConfigUnset(f *cmdutil.Factory, runF func(*ConfigSetOptions) error) *cobra.Command {
	opts := newConfigSetOptions(f)
	return &cobra.Command{
		Use:   "unset KEY",
		Short: "Remove a key from the config file",
		Long: `Remove KEY from the config file, so the next source (built-in default)
applies. Unsetting a key that is not set changes nothing.

` + configKeysHelp,
		Example: `  ferry config unset defaults.rulesfiles-dir
  ferry config unset registries.registry.internal:5000.caFile`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeConfigKeys,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Key, opts.Value = f.IO, args[0], nil
			if runF != nil {
				return runF(opts)
			}
			return configSetRun(cmd.Context(), opts)
		},
	}
}

var engineVersionName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// unknownKey is the usage error for a key config set does not take.
func unknownKey(key, why string) error {
	return &cmdutil.CodedError{
		Code: cmdutil.ExitUsage,
		Err:  fmt.Errorf("%s: %s", key, why),
		Hint: cmdutil.KeysHint(),
	}
}

// configSetRun sets the key to *Value, or removes it when Value is nil, and
// saves the config file. Nothing is written when the key or value is
// refused.
func configSetRun(_ context.Context, opts *ConfigSetOptions) error {
	key, value := opts.Key, opts.Value
	cfg, err := opts.ConfigFile()
	if err != nil {
		return err
	}
	set := func(dst *string) {
		*dst = ""
		if value != nil {
			*dst = *value
		}
	}
	k := cmdutil.LookupKey(key)
	switch {
	case k != nil && k.Secret:
		return &cmdutil.CodedError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("%s is a secret: config set does not write secrets into the config file", key),
			Hint: "run: ferry registry login HOST (credentials go to the docker credential store)"}
	case k != nil && !k.Settable && !strings.HasPrefix(key, "indexes"):
		return unknownKey(key, "set in the config file itself, not with config set")
	case k != nil && value != nil && k.Check != nil && !strings.HasPrefix(key, "registries."):
		if err := k.Check(*value); err != nil {
			return cmdutil.Usage(fmt.Errorf("%s %w", key, err))
		}
	}
	switch {
	case strings.HasPrefix(key, "defaults."):
		if err := setDefault(cfg, opts.LookupFlag, key, value); err != nil {
			return err
		}
	case strings.HasPrefix(key, "engine.versions."):
		if err := setEngineVersion(cfg, key, value); err != nil {
			return err
		}
	case k != nil && k.Field != nil:
		set(k.Field(cfg))
	case strings.HasPrefix(key, "registries."):
		if err := setRegistryKey(cfg, key, value); err != nil {
			return err
		}
	case strings.HasPrefix(key, "indexes"):
		return &cmdutil.CodedError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("%s: indexes are not set with config set", key),
			Hint: "run: ferry index add NAME URL (or ferry index remove NAME)"}
	default:
		return unknownKey(key, "not a key ferry config set takes")
	}
	path := opts.ConfigPath()
	if err := cfg.Save(path); err != nil {
		return fmt.Errorf("saving config: %w", err)
	}
	if opts.Global.JSON() {
		return printJSON(opts.IO.Out, configSetView{File: path, Key: key, Value: value})
	}
	if value == nil {
		fmt.Fprintf(opts.IO.Out, "Unset %s in %s\n", key, path)
	} else {
		fmt.Fprintf(opts.IO.Out, "Set %s to %q in %s\n", key, *value, path)
	}
	return nil
}

// setDefault sets (or, value nil, removes) defaults.FLAG, once the value
// parses as the flag's.
func setDefault(cfg *cmdutil.Config, lookup func(string) *pflag.Flag, key string, value *string) error {
	name := strings.TrimPrefix(key, "defaults.")
	fl := lookup(name)
	if fl == nil || name == "config" || cmdutil.IsAlias(fl) {
		return unknownKey(key, fmt.Sprintf("no flag named --%s", name))
	}
	if value == nil {
		delete(cfg.Defaults, name)
		return nil
	}
	if err := fl.Value.Set(*value); err != nil {
		return cmdutil.Usage(fmt.Errorf("%s: %q is not a valid --%s: %w", key, *value, name, err))
	}
	if cfg.Defaults == nil {
		cfg.Defaults = map[string]string{}
	}
	cfg.Defaults[name] = *value
	return nil
}

// setEngineVersion sets (or, value nil, removes) engine.versions.NAME.
func setEngineVersion(cfg *cmdutil.Config, key string, value *string) error {
	name := strings.TrimPrefix(key, "engine.versions.")
	if !engineVersionName.MatchString(name) {
		return unknownKey(key, fmt.Sprintf("%q is not a version name like engine_version_semver", name))
	}
	if value == nil {
		delete(cfg.Engine.Versions, name)
		return nil
	}
	if err := install.CheckEngineVersion(*value); err != nil {
		return cmdutil.Usage(fmt.Errorf("%s: %w", key, err))
	}
	if cfg.Engine.Versions == nil {
		cfg.Engine.Versions = map[string]string{}
	}
	cfg.Engine.Versions[name] = *value
	return nil
}

// freshFlag finds the flag named name in a throwaway command tree, so that
// a value can be checked by parsing it without touching this run's flags.
func freshFlag(f *cmdutil.Factory, name string) *pflag.Flag {
	var found *pflag.Flag
	walk(NewCmdRoot(cmdutil.NewFactory(f.Version)), func(c *cobra.Command) {
		if found == nil {
			if fl := c.LocalFlags().Lookup(name); fl != nil && !fl.Hidden && name != "help" && name != "version" {
				found = fl
			}
		}
	})
	return found
}

// setRegistryKey handles registries.HOST.FIELD; HOST may contain dots and
// a port, so FIELD is what follows the last dot.
func setRegistryKey(cfg *cmdutil.Config, key string, value *string) error {
	rest := strings.TrimPrefix(key, "registries.")
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 {
		return unknownKey(key, "want registries.HOST.FIELD")
	}
	host, field := rest[:i], rest[i+1:]
	j := slices.IndexFunc(cfg.Registries, func(r cmdutil.RegistryConfig) bool { return r.Host == host })
	if j < 0 {
		if value == nil {
			return nil
		}
		cfg.Registries = append(cfg.Registries, cmdutil.RegistryConfig{Host: host})
		j = len(cfg.Registries) - 1
	}
	r := &cfg.Registries[j]
	boolean := func(dst *bool) error {
		if value == nil {
			*dst = false
			return nil
		}
		b, err := strconv.ParseBool(*value)
		if err != nil {
			return cmdutil.Usage(fmt.Errorf("%s must be true or false, not %q", key, *value))
		}
		*dst = b
		return nil
	}
	if k := cmdutil.LookupKey("registries.*." + field); k == nil || !k.Settable || k.Name != "registries.*."+field {
		return unknownKey(key, fmt.Sprintf("registries have no field %q", field))
	}
	var err error
	switch field {
	case "plainHTTP":
		if value == nil {
			r.PlainHTTP = nil
			break
		}
		var b bool
		if err = boolean(&b); err == nil {
			r.PlainHTTP = &b
		}
	case "caFile":
		r.CAFile = ""
		if value != nil {
			r.CAFile = *value
		}
	case "insecureSkipTLSVerify":
		err = boolean(&r.InsecureSkipTLSVerify)
	case "fallbackOnly":
		err = boolean(&r.FallbackOnly)
	case "mirrors":
		r.Mirrors = nil
		if value != nil && *value != "" {
			r.Mirrors = strings.Split(*value, ",")
		}
	default:
		return unknownKey(key, fmt.Sprintf("registries have no field %q", field))
	}
	if err != nil {
		return err
	}
	if r.PlainHTTP == nil && r.CAFile == "" && !r.InsecureSkipTLSVerify && !r.FallbackOnly && len(r.Mirrors) == 0 {
		cfg.Registries = slices.Delete(cfg.Registries, j, j+1)
	}
	return nil
}

// completeConfigKeys completes the first argument of config set and unset.
func completeConfigKeys(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	keys := []string{"engine.versions.engine_version_semver", "engine.versions.plugin_api_version"}
	for _, k := range cmdutil.Keys {
		if k.Settable && !strings.Contains(k.Name, "*") && !strings.HasPrefix(k.Name, "defaults.") {
			keys = append(keys, k.Name)
		}
	}
	for _, fl := range flagsByName(cmd.Root()) {
		if k := cmdutil.FlagKey(fl.Name); fl.Name != "config" && (k == nil || !k.Secret) {
			keys = append(keys, "defaults."+fl.Name)
		}
	}
	return filterPrefix(keys, toComplete), cobra.ShellCompDirectiveNoFileComp
}
