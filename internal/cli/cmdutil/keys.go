package cmdutil

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Kind is the type of a configuration key's value.
type Kind string

// The kinds of values a key holds.
const (
	KindString   Kind = "string"
	KindBool     Kind = "bool"
	KindDuration Kind = "duration"
	KindList     Kind = "list"
	// KindSection is a list or map of records, edited by its own commands
	// (index add, registry login) or in the file itself.
	KindSection Kind = "section"
)

// Alias is one of falcoctl's config keys feeding a flag, on the commands
// named (a path prefix: "driver" is every driver command).
type Alias struct {
	Key      string
	Commands []string
}

// Key is one key of the configuration: a flag's default (defaults.FLAG), a
// value of the config file, or one of falcoctl's keys. The table of keys
// drives the flags it declares, the environment, the config file (and its
// unknown-key warning), "config view|set|unset" and their completion.
type Key struct {
	// Name is the key in the config file, its levels joined by dots; "*"
	// stands for a free name (a host, a version name) and "[]" for the
	// items of a list.
	Name string
	Kind Kind
	// Flag is the flag the key sets when the command line does not; a
	// flag key declared here (Declare) is named defaults.FLAG.
	Flag string
	// Default is ferry's default; FalcoctlDefault the one in falcoctl
	// mode, when it differs.
	Default         string
	FalcoctlDefault string
	// FalcoctlDefaultOn limits FalcoctlDefault to these commands.
	FalcoctlDefaultOn []string
	Help              string
	// Env is the environment variable read in ferry mode (FERRY_...);
	// falcoctl's keys are read from FALCOCTL_<KEY> in falcoctl mode.
	Env string
	// Falcoctl lists falcoctl's keys for the same setting.
	Falcoctl []Alias
	// Falcoctl marks a key of falcoctl's config file.
	FalcoctlKey bool
	// FalcoctlEnv are more variables falcoctl reads for the key (HOST_ROOT).
	FalcoctlEnv []string
	// Secret values are never shown, and config set refuses them.
	Secret bool
	// Settable says config set and unset take the key.
	Settable bool
	// Check validates a value config set is given.
	Check func(string) error
	// FlagAliases are falcoctl's names for Flag where they differ
	// (DeclareAliases adds them).
	FlagAliases []string
	// Values are the values the key takes, when they are few (completion
	// offers them).
	Values []string
	// Field is where a plain value of the file lives: config view shows
	// it and config set|unset writes it.
	Field func(*Config) *string
}

// FalcoctlEnvName is viper's variable for a falcoctl key: FALCOCTL_ and the
// key upper-cased, with dots and dashes as underscores.
func FalcoctlEnvName(key string) string {
	return "FALCOCTL_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// FlagEnvName is ferry's variable for a flag: FERRY_<FLAG_NAME>.
func FlagEnvName(flag string) string {
	return "FERRY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

var (
	installCmd = []string{"artifact install"}
	followCmd  = []string{"artifact follow"}
	artifacts  = []string{"artifact install", "artifact follow"}
	drivers    = []string{"driver"}
	// driverConfigCmd is driver config, whose driver.config.* keys falcoctl
	// binds to its flags.
	driverConfigCmd = []string{"driver config"}
)

func checkDuration(v string) error {
	if d, err := time.ParseDuration(v); err != nil || d <= 0 {
		return fmt.Errorf("must be a positive duration like 3s, not %q", v)
	}
	return nil
}

func checkOneOf(values ...string) func(string) error {
	return func(v string) error {
		if !slices.Contains(values, v) {
			return fmt.Errorf("must be %s, not %q", strings.Join(values, " or "), v)
		}
		return nil
	}
}

func checkBool(v string) error {
	if v != "true" && v != "false" {
		return fmt.Errorf("must be true or false, not %q", v)
	}
	return nil
}

// Keys is the table of configuration keys.
var Keys = []Key{
	// Flags declared once for every command that has them.
	{Name: "defaults.output", Flag: "output", Kind: KindString, Values: []string{"text", "json"}, Default: "text", Help: "output format: text or json"},
	{Name: "defaults.log-level", Flag: "log-level", Kind: KindString, Values: []string{"error", "warn", "info", "debug", "trace"}, Default: "warn", FalcoctlDefault: "info", Help: "log level on stderr: error, warn, info, debug (trace: debug)"},
	{Name: "defaults.log-format", Flag: "log-format", Kind: KindString, Values: []string{"text", "color", "json"}, Default: "text", Help: "format of what is logged on stderr: text, color (text) or json (one JSON object per line)"},
	{Name: "defaults.quiet", Flag: "quiet", Kind: KindBool, Default: "false", Help: "no progress, only results and errors"},
	{Name: "defaults.plain-http", Flag: "plain-http", Kind: KindBool, Default: "false", Help: "talk plain HTTP, not HTTPS, to registries (on the command line, it also overrides a host's plainHTTP in the config)"},
	{Name: "defaults.ca-file", Flag: "ca-file", Kind: KindString, Help: "PEM file of CA certificates to trust for registries and mirrors"},
	{Name: "defaults.insecure-skip-tls-verify", Flag: "insecure-skip-tls-verify", Kind: KindBool, Default: "false", Help: "do not verify registry TLS certificates"},
	{Name: "defaults.idle-timeout", Flag: "idle-timeout", Kind: KindDuration, Default: "1m0s", Help: "give up on a download that receives no byte, or an upload the server takes none of, for this long (a download then resumes or tries the next channel; an upload is retried)"},
	{Name: "defaults.connect-timeout", Flag: "connect-timeout", Kind: KindDuration, Default: "10s", Help: "give up on a connection (TCP, a proxy's CONNECT, TLS) not ready after this long"},
	{Name: "defaults.response-timeout", Flag: "response-timeout", Kind: KindDuration, Default: "30s", Help: "give up on a request whose response headers do not come within this long"},
	{Name: "defaults.retry-max-wait", Flag: "retry-max-wait", Kind: KindDuration, Default: "30s", Help: "longest wait before a retry; a server asking for more (Retry-After) fails the request at once"},
	{Name: "defaults.retry-timeout", Flag: "retry-timeout", Kind: KindDuration, Default: "1m0s", Help: "start no retry of a request later than this after its first attempt"},
	{Name: "defaults.state-dir", Flag: "state-dir", Kind: KindString, Default: "/var/lib/ferry", FalcoctlDefault: "/var/lib/falcoctl",
		Help:     "directory of ferry's state: what is installed, the lock file, undelivered events",
		Falcoctl: []Alias{{"artifact.install.stateDir", installCmd}, {"artifact.follow.stateDir", followCmd}}},
	{Name: "defaults.rulesfiles-dir", Flag: "rulesfiles-dir", Kind: KindString, Default: "/etc/falco", Help: "directory for rules files",
		Falcoctl: []Alias{{"artifact.install.rulesfilesDir", installCmd}, {"artifact.follow.rulesfilesDir", followCmd}}},
	{Name: "defaults.plugins-dir", Flag: "plugins-dir", Kind: KindString, Default: "/usr/share/falco/plugins", Help: "directory for plugins",
		Falcoctl: []Alias{{"artifact.install.pluginsDir", installCmd}, {"artifact.follow.pluginsDir", followCmd}}},
	{Name: "defaults.assets-dir", Flag: "assets-dir", Kind: KindString, Default: "/etc/falco/assets", Help: "directory for assets",
		Falcoctl: []Alias{{"artifact.install.assetsDir", installCmd}, {"artifact.follow.assetsDir", followCmd}}},
	{Name: "defaults.allowed-types", Flag: "allowed-types", Kind: KindList, Help: "install only these types (comma-separated: rulesfile,plugin,asset)",
		Falcoctl: []Alias{{"artifact.allowedTypes", artifacts}}},
	{Name: "defaults.resolve-deps", Flag: "resolve-deps", Kind: KindBool, Default: "true", Help: "also install the artifacts these depend on",
		Falcoctl: []Alias{{"artifact.install.resolveDeps", installCmd}}},
	{Name: "defaults.no-verify", Flag: "no-verify", Kind: KindBool, Falcoctl: []Alias{{"artifact.noVerify", artifacts}}},
	{Name: "defaults.every", Flag: "every", Kind: KindDuration, Default: "6h0m0s", Help: "time between checks",
		Falcoctl: []Alias{{"artifact.follow.every", followCmd}}},
	{Name: "defaults.cron", Flag: "cron", Kind: KindString, Help: `check on this cron schedule instead ("MIN HOUR DOM MON DOW", local time)`,
		Falcoctl: []Alias{{"artifact.follow.cron", followCmd}}},
	{Name: "defaults.startup-behavior", Flag: "startup-behavior", Kind: KindString, Values: []string{"immediate", "jitter", "skip"}, FalcoctlDefault: "jitter", FalcoctlDefaultOn: followCmd,
		Help:     "the first check: immediate, jitter (after a random delay of up to --every) or skip (at the first scheduled time); default: after --jitter",
		Falcoctl: []Alias{{"artifact.follow.startupBehavior", followCmd}}},
	{Name: "defaults.tmp-dir", Flag: "tmp-dir", Kind: KindString, Help: "accepted for falcoctl, where it holds downloads; must be a directory if given, but ferry writes nothing there: each download streams, verified, into .ferry-staging in its destination directory, on the destination's file system, so that installing it is an atomic rename",
		Falcoctl: []Alias{{"artifact.follow.tmpDir", followCmd}}},
	{Name: "defaults.engine-versions-url", Flag: "engine-versions-url", Kind: KindString, FalcoctlDefault: "http://localhost:8765/versions", FalcoctlDefaultOn: followCmd,
		Help:     "read the engine's versions from this URL (Falco's /versions endpoint)",
		Falcoctl: []Alias{{"artifact.follow.falcoversions", followCmd}}, FlagAliases: []string{"falco-versions"}},
	{Name: "defaults.timeout", Flag: "timeout", Kind: KindDuration, Default: "0s", FalcoctlDefault: "2m0s", FalcoctlDefaultOn: followCmd,
		Help: "wait up to this long for the engine's versions endpoint at start-up, retrying (0: do not wait; a failed read fails that check)"},
	{Name: "defaults.jitter", Flag: "jitter", Kind: KindDuration, Default: "1m0s", Help: "random delay of up to this before the first check (at most --every)"},
	{Name: "defaults.type", Flag: "type", Kind: KindList, Falcoctl: []Alias{{"driver.type", drivers}}},
	{Name: "defaults.name", Flag: "name", Kind: KindString, Falcoctl: []Alias{{"driver.name", drivers}}},
	{Name: "defaults.repo", Flag: "repo", Kind: KindList, Falcoctl: []Alias{{"driver.repos", drivers}}},
	{Name: "defaults.version", Flag: "version", Kind: KindString, Falcoctl: []Alias{{"driver.version", drivers}}},
	{Name: "defaults.host-root", Flag: "host-root", Kind: KindString, Falcoctl: []Alias{{"driver.hostRoot", drivers}}},
	{Name: "defaults.load", Flag: "load", Kind: KindBool, Default: "false", FalcoctlDefault: "true", FalcoctlDefaultOn: []string{"driver install"},
		Help: "load the kernel module once installed (falcoctl always does)"},
	{Name: "defaults.unload", Flag: "unload", Kind: KindBool, Default: "false", FalcoctlDefault: "true", FalcoctlDefaultOn: []string{"driver cleanup"},
		Help: "also unload the kernel module (falcoctl always does)"},
	{Name: "defaults.update-falco", Flag: "update-falco", Kind: KindBool, Falcoctl: []Alias{{"driver.config.update_falco", driverConfigCmd}}},
	{Name: "defaults.falco-config-dir", Flag: "falco-config-dir", Kind: KindString, Falcoctl: []Alias{{"driver.config.configdir", driverConfigCmd}}},
	{Name: "defaults.namespace", Flag: "namespace", Kind: KindString, Falcoctl: []Alias{{"driver.config.namespace", driverConfigCmd}}},
	{Name: "defaults.configmap", Flag: "configmap", Kind: KindString, Falcoctl: []Alias{{"driver.config.configmap", driverConfigCmd}}},
	{Name: "defaults.kubeconfig", Flag: "kubeconfig", Kind: KindString, Falcoctl: []Alias{{"driver.config.kubeconfig", driverConfigCmd}}},
	{Name: "defaults.password", Flag: "password", Kind: KindString, Secret: true},
	{Name: "defaults.*", Kind: KindString, Settable: true, Help: "the default of any flag, e.g. defaults.state-dir"},

	// The config file's own sections.
	{Name: "indexes", Kind: KindSection, Help: `managed with "ferry index add|remove"`, FalcoctlKey: true},
	{Name: "indexes[].name", Kind: KindString, FalcoctlKey: true},
	{Name: "indexes[].url", Kind: KindString, FalcoctlKey: true},
	{Name: "indexes[].backend", Kind: KindString, FalcoctlKey: true},
	{Name: "registries", Kind: KindSection},
	{Name: "registries[].host", Kind: KindString},
	{Name: "registries.*.plainHTTP", Kind: KindBool, Settable: true, Check: checkBool, Help: "talk plain HTTP to HOST (the command line's --plain-http wins)"},
	{Name: "registries.*.caFile", Kind: KindString, Settable: true, Help: "CA certificates for HOST"},
	{Name: "registries.*.insecureSkipTLSVerify", Kind: KindBool, Settable: true, Check: checkBool},
	{Name: "registries.*.mirrors", Kind: KindList, Settable: true, Help: "comma-separated hosts tried before HOST"},
	{Name: "registries.*.fallbackOnly", Kind: KindBool, Settable: true, Check: checkBool, Help: "try the mirrors only after HOST failed"},
	{Name: "engine.versions.*", Kind: KindString, Settable: true, Help: "an engine version, e.g. engine.versions.engine_version_semver"},
	{Name: "engine.versionsURL", Field: func(c *Config) *string { return &c.Engine.VersionsURL }, Kind: KindString, Flag: "engine-versions-url", Settable: true, Help: "Falco's /versions endpoint"},
	{Name: "events.sinks", Kind: KindSection, Help: "event sinks (with their headers) are set in the file itself"},
	{Name: "events.sinks[].url", Kind: KindString},
	{Name: "events.sinks[].headers.*", Kind: KindString, Secret: true},
	{Name: "events.sinks[].binary", Kind: KindBool},
	{Name: "events.source", Field: func(c *Config) *string { return &c.Events.Source }, Kind: KindString, Flag: "events-source", Settable: true},
	{Name: "events.user", Field: func(c *Config) *string { return &c.Events.User }, Kind: KindString, Flag: "events-user", Settable: true},
	{Name: "events.file", Field: func(c *Config) *string { return &c.Events.File }, Kind: KindString, Flag: "events-file", Settable: true},
	{Name: "events.spec", Values: []string{"0.5", "0.4"}, Field: func(c *Config) *string { return &c.Events.Spec }, Kind: KindString, Flag: "events-spec", Settable: true, Check: checkOneOf("0.5", "0.4")},
	{Name: "events.timeout", Field: func(c *Config) *string { return &c.Events.Timeout }, Kind: KindDuration, Flag: "events-timeout", Settable: true, Check: checkDuration},

	// falcoctl's keys that are not a flag's.
	{Name: "artifact.install.refs", Kind: KindList, FalcoctlKey: true, Help: "what artifact install installs when given no REF"},
	{Name: "artifact.follow.refs", Kind: KindList, FalcoctlKey: true, Help: "what artifact follow follows when given no REF"},
	{Name: "driver.hostRoot", Kind: KindString, FalcoctlKey: true, FalcoctlEnv: []string{"HOST_ROOT"}},
	{Name: "registry.creds.config", Kind: KindString, FalcoctlKey: true, Help: "the docker-style credentials file (default $DOCKER_CONFIG/config.json)"},
	{Name: "registry.auth.basic", Kind: KindSection, FalcoctlKey: true},
	{Name: "registry.auth.basic[].registry", Kind: KindString, FalcoctlKey: true},
	{Name: "registry.auth.basic[].user", Kind: KindString, FalcoctlKey: true},
	{Name: "registry.auth.basic[].password", Kind: KindString, FalcoctlKey: true, Secret: true},
	{Name: "registry.auth.oauth", Kind: KindSection, FalcoctlKey: true},
	{Name: "registry.auth.oauth[].registry", Kind: KindString, FalcoctlKey: true},
	{Name: "registry.auth.oauth[].clientSecret", Kind: KindString, FalcoctlKey: true, Secret: true},
	{Name: "registry.auth.oauth[].clientID", Kind: KindString, FalcoctlKey: true},
	{Name: "registry.auth.oauth[].tokenURL", Kind: KindString, FalcoctlKey: true},
	{Name: "registry.auth.gcp", Kind: KindSection, FalcoctlKey: true},
	{Name: "registry.auth.gcp[].registry", Kind: KindString, FalcoctlKey: true},
}

func init() {
	// Every alias is a key of the file, and the flag keys' environment.
	var more []Key
	for i := range Keys {
		k := &Keys[i]
		if k.Flag != "" && strings.HasPrefix(k.Name, "defaults.") {
			k.Env = FlagEnvName(k.Flag)
			k.Settable = true
		}
		for _, a := range k.Falcoctl {
			if LookupKey(a.Key) == nil {
				more = append(more, Key{Name: a.Key, Kind: k.Kind, Flag: k.Flag, FalcoctlKey: true, Help: "falcoctl's key for --" + k.Flag})
			}
		}
	}
	Keys = append(Keys, more...)
}

// LookupKey finds the key named name (case-insensitively, as falcoctl's
// viper reads keys), matching "*" to any one level.
func LookupKey(name string) *Key {
	var wild *Key
	for i := range Keys {
		k := &Keys[i]
		if strings.EqualFold(k.Name, name) {
			return k
		}
		if wild == nil && strings.Contains(k.Name, "*") && matchPattern(k.Name, name) {
			wild = k
		}
	}
	return wild
}

// matchPattern matches a dotted name against a pattern whose "*" is one
// level, or for registries.*.FIELD a host that may hold dots.
func matchPattern(pattern, name string) bool {
	before, after, _ := strings.Cut(pattern, "*")
	if len(name) <= len(before)+len(after) || !strings.EqualFold(name[:len(before)], before) || !strings.EqualFold(name[len(name)-len(after):], after) {
		return false
	}
	mid := name[len(before) : len(name)-len(after)]
	return mid != "" && (strings.HasPrefix(pattern, "registries.") || !strings.Contains(mid, "."))
}

// FlagKey is the table's key for a flag, if it has one.
func FlagKey(flag string) *Key {
	for i := range Keys {
		if Keys[i].Flag == flag && strings.HasPrefix(Keys[i].Name, "defaults.") {
			return &Keys[i]
		}
	}
	return nil
}

// Declare binds the flag named name as the table describes it (type,
// default, help) to p, which is a *string, *bool, *[]string or
// *time.Duration. The flag must be in the table.
func Declare(fs *pflag.FlagSet, name string, p any, help ...string) {
	DeclareP(fs, name, "", p, help...)
}

// DeclareP is Declare with a one-letter shorthand.
func DeclareP(fs *pflag.FlagSet, name, short string, p any, help ...string) {
	k := FlagKey(name)
	if k == nil {
		panic("cmdutil: no key for flag --" + name)
	}
	h := k.Help
	if len(help) > 0 {
		h = help[0]
	}
	switch v := p.(type) {
	case *string:
		fs.StringVarP(v, name, short, k.Default, h)
	case *bool:
		fs.BoolVarP(v, name, short, k.Default == "true", h)
	case *[]string:
		var def []string
		if k.Default != "" {
			def = strings.Split(k.Default, ",")
		}
		fs.StringSliceVarP(v, name, short, def, h)
	case *time.Duration:
		d, err := time.ParseDuration(k.Default)
		if err != nil {
			panic("cmdutil: default of --" + name + ": " + err.Error())
		}
		fs.DurationVarP(v, name, short, d, h)
	default:
		panic(fmt.Sprintf("cmdutil: --%s bound to %T", name, p))
	}
}

// aliasOf is the annotation naming the flag an alias flag stands for.
const aliasOf = "ferry-alias-of"

// DeclareAliases adds falcoctl's name for every flag of fs the table gives
// one for; an alias shares its flag's value.
func DeclareAliases(fs *pflag.FlagSet) {
	for _, k := range Keys {
		fl := fs.Lookup(k.Flag)
		if fl == nil || !strings.HasPrefix(k.Name, "defaults.") {
			continue
		}
		for _, a := range k.FlagAliases {
			if fs.Lookup(a) != nil {
				continue
			}
			fs.Var(fl.Value, a, "same as --"+k.Flag+" (falcoctl's name)")
			alias := fs.Lookup(a)
			alias.DefValue = fl.DefValue
			alias.Annotations = map[string][]string{aliasOf: {k.Flag}}
		}
	}
}

// IsAlias reports whether fl is another name of a flag.
func IsAlias(fl *pflag.Flag) bool { return len(fl.Annotations[aliasOf]) > 0 }

// aliasesFor lists falcoctl's keys feeding flag on the command at path.
func aliasesFor(flag, path string) []string {
	var out []string
	for _, k := range Keys {
		if k.Flag != flag {
			continue
		}
		for _, a := range k.Falcoctl {
			for _, c := range a.Commands {
				if path == c || strings.HasPrefix(path, c+" ") {
					out = append(out, a.Key)
				}
			}
		}
	}
	return out
}

// sectionKeysFor lists the config file's own keys (not defaults.FLAG)
// feeding flag, e.g. events.timeout for --events-timeout.
func sectionKeysFor(flag string) []string {
	var out []string
	for _, k := range Keys {
		if k.Flag == flag && !k.FalcoctlKey && !strings.HasPrefix(k.Name, "defaults.") {
			out = append(out, k.Name)
		}
	}
	return out
}

// KeysHelp describes the keys config set and unset take.
func KeysHelp() string {
	var b strings.Builder
	b.WriteString(`Keys "ferry config set" and "ferry config unset" take:` + "\n")
	var groups [][2]string
	var events []string
	var regs []string
	for _, k := range Keys {
		if !k.Settable {
			continue
		}
		switch {
		case k.Name == "defaults.*":
			groups = append(groups, [2]string{"defaults.FLAG", k.Help})
		case strings.HasPrefix(k.Name, "engine."):
			groups = append(groups, [2]string{strings.ReplaceAll(k.Name, "*", "NAME"), k.Help})
		case strings.HasPrefix(k.Name, "events."):
			events = append(events, strings.TrimPrefix(k.Name, "events."))
		case strings.HasPrefix(k.Name, "registries.*."):
			if k.Kind != KindList {
				regs = append(regs, strings.TrimPrefix(k.Name, "registries.*."))
			}
		}
	}
	groups = append(groups,
		[2]string{"events." + strings.Join(events, "|"), ""},
		[2]string{"registries.HOST." + strings.Join(regs, "|"), ""},
		[2]string{"registries.HOST.mirrors", "comma-separated hosts"},
	)
	for _, g := range groups {
		if g[1] == "" {
			fmt.Fprintf(&b, "  %s\n", g[0])
		} else {
			fmt.Fprintf(&b, "  %-30s %s\n", g[0], g[1])
		}
	}
	b.WriteString(`Indexes are managed with "ferry index add|remove"; event sinks (with their
headers) and credentials in the file itself.`)
	return b.String()
}

// KeysHint is the one-line list of keys in an unknown-key error.
func KeysHint() string {
	keys := []string{"defaults.FLAG"}
	var events, regs []string
	for _, k := range Keys {
		switch {
		case !k.Settable || strings.HasPrefix(k.Name, "defaults."):
		case strings.HasPrefix(k.Name, "events."):
			events = append(events, strings.TrimPrefix(k.Name, "events."))
		case strings.HasPrefix(k.Name, "registries.*."):
			regs = append(regs, strings.TrimPrefix(k.Name, "registries.*."))
		default:
			keys = append(keys, strings.ReplaceAll(k.Name, "*", "NAME"))
		}
	}
	keys = append(keys, "events.{"+strings.Join(events, ",")+"}", "registries.HOST.{"+strings.Join(regs, ",")+"}")
	return "keys: " + strings.Join(keys, ", ") + " (see ferry config --help)"
}
