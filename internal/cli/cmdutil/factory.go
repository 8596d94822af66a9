package cmdutil

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
	"oras.land/oras-go/v2/registry/remote/credentials"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// IOStreams are the command's standard streams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// ErrTerminal reports whether ErrOut is a terminal (progress is drawn
	// only there).
	ErrTerminal bool
}

// GlobalOptions are the flags every command has.
type GlobalOptions struct {
	ConfigPath         string
	Output             string
	LogLevel           string
	Quiet              bool
	PlainHTTP          bool
	CAFile             string
	InsecureSkipVerify bool
	IdleTimeout        time.Duration
	LogFormat          string
	// Verbose is falcoctl's deprecated --verbose (falcoctl mode).
	Verbose bool
	// PlainHTTPSet says --plain-http was given on the command line: it
	// then wins over a host's plainHTTP in the config.
	PlainHTTPSet    bool
	ConnectTimeout  time.Duration
	ResponseTimeout time.Duration
	RetryMaxWait    time.Duration
	RetryTimeout    time.Duration
}

// AddFlags binds the global flags.
func (g *GlobalOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.ConfigPath, "config", "", "config file (default $XDG_CONFIG_HOME/ferry/config.yaml; as falcoctl: /etc/falcoctl/falcoctl.yaml)")
	DeclareP(fs, "output", "o", &g.Output)
	Declare(fs, "log-level", &g.LogLevel)
	Declare(fs, "log-format", &g.LogFormat)
	DeclareP(fs, "quiet", "q", &g.Quiet)
	Declare(fs, "plain-http", &g.PlainHTTP)
	Declare(fs, "ca-file", &g.CAFile)
	Declare(fs, "insecure-skip-tls-verify", &g.InsecureSkipVerify)
	Declare(fs, "idle-timeout", &g.IdleTimeout)
	Declare(fs, "connect-timeout", &g.ConnectTimeout)
	Declare(fs, "response-timeout", &g.ResponseTimeout)
	Declare(fs, "retry-max-wait", &g.RetryMaxWait)
	Declare(fs, "retry-timeout", &g.RetryTimeout)
}

// Validate checks the global flag values.
func (g *GlobalOptions) Validate() error {
	if g.Output != "text" && g.Output != "json" {
		return Usage(fmt.Errorf("--output must be text or json, not %q", g.Output))
	}
	switch g.LogLevel {
	case "error", "warn", "info", "debug", "trace":
	default:
		return Usage(fmt.Errorf("--log-level must be error, warn, info, debug or trace, not %q", g.LogLevel))
	}
	switch g.LogFormat {
	case "text", "color", "json":
	default:
		return Usage(fmt.Errorf("--log-format must be text, color or json, not %q", g.LogFormat))
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"idle-timeout", g.IdleTimeout}, {"connect-timeout", g.ConnectTimeout}, {"response-timeout", g.ResponseTimeout}, {"retry-max-wait", g.RetryMaxWait}, {"retry-timeout", g.RetryTimeout}} {
		if d.v <= 0 {
			return Usage(fmt.Errorf("--%s must be positive, not %s", d.flag, d.v))
		}
	}
	return nil
}

// JSON reports whether results are printed as JSON.
func (g *GlobalOptions) JSON() bool { return g.Output == "json" }

// Factory builds the dependencies of commands lazily, once per run.
type Factory struct {
	IO      IOStreams
	Global  GlobalOptions
	Version string
	// Getenv reads the environment (tests replace it).
	Getenv func(string) string
	// Falcoctl is falcoctl mode: ferry run as "falcoctl" reads falcoctl's
	// config file, environment and defaults.
	Falcoctl bool
	// ConfigMayBeMissing lets a command that writes the config (config
	// set, index add) name a file with --config that does not exist yet.
	ConfigMayBeMissing bool

	// HTTPClientFunc, OCIClientFunc, CredentialsFunc and IndexesFunc, when
	// set (by tests, before the command tree is built), replace what
	// HTTPClient, OCIClient, Credentials and Indexes build.
	HTTPClientFunc  func() (*http.Client, error)
	OCIClientFunc   func() (*oci.Client, error)
	CredentialsFunc func() (credentials.Store, error)
	IndexesFunc     func(context.Context) (*index.Set, error)

	configOnce sync.Once
	config     *Config
	configErr  error

	httpOnce sync.Once
	http     *http.Client
	httpErr  error
}

// NewFactory returns a Factory on the process's streams and environment.
func NewFactory(version string) *Factory {
	return &Factory{
		IO:      IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, ErrTerminal: term.IsTerminal(int(os.Stderr.Fd()))},
		Version: version,
		Getenv:  os.Getenv,
	}
}

// FalcoctlConfigPath is falcoctl's config file.
const FalcoctlConfigPath = "/etc/falcoctl/falcoctl.yaml"

// ConfigPath is the config file in use.
func (f *Factory) ConfigPath() string {
	if f.Global.ConfigPath != "" {
		return f.Global.ConfigPath
	}
	if p := f.Getenv("FERRY_CONFIG"); p != "" {
		return p
	}
	if f.Falcoctl {
		return FalcoctlConfigPath
	}
	return filepath.Join(f.configHome(), "ferry", "config.yaml")
}

func (f *Factory) configHome() string {
	if d := f.Getenv("XDG_CONFIG_HOME"); d != "" {
		return d
	}
	if d, err := os.UserConfigDir(); err == nil {
		return d
	}
	return ".config"
}

// CacheDir is where fetched indexes are kept.
func (f *Factory) CacheDir() string {
	if d := f.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "ferry")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "ferry")
	}
	return filepath.Join(".cache", "ferry")
}

// Config loads the config file once. A file named with --config must
// exist (exit 3, as every missing input file), unless the command creates
// it.
func (f *Factory) Config() (*Config, error) {
	f.configOnce.Do(func() {
		path := f.ConfigPath()
		f.config, f.configErr = LoadConfig(path)
		if f.configErr != nil {
			return
		}
		if !f.config.Exists && f.Global.ConfigPath != "" && !f.ConfigMayBeMissing {
			f.config, f.configErr = nil, NotFound(fmt.Errorf("--config %s: no such file", path))
			return
		}
	})
	return f.config, f.configErr
}

// WarnUnknownKeys prints, once the log format is known, the warning naming
// the config file's keys no command reads.
func (f *Factory) WarnUnknownKeys() {
	if cfg, err := f.Config(); err == nil && len(cfg.Unknown) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "warning: config %s: unknown keys ignored: %s\n", f.ConfigPath(), strings.Join(cfg.Unknown, ", "))
	}
}

// Logger logs to stderr at the chosen level, in the chosen format.
func (f *Factory) Logger() *slog.Logger {
	level := map[string]slog.Level{"error": slog.LevelError, "warn": slog.LevelWarn, "info": slog.LevelInfo, "debug": slog.LevelDebug, "trace": slog.LevelDebug}[f.Global.LogLevel]
	if f.Global.LogFormat == "json" {
		return slog.New(NewJSONLogHandler(f.IO.ErrOut, level))
	}
	return slog.New(slog.NewTextHandler(f.IO.ErrOut, &slog.HandlerOptions{Level: level}))
}

// HTTPClient is the one HTTP client of the run.
func (f *Factory) HTTPClient() (*http.Client, error) {
	if f.HTTPClientFunc != nil {
		return f.HTTPClientFunc()
	}
	f.httpOnce.Do(func() {
		cfg, err := f.Config()
		if err != nil {
			f.httpErr = err
			return
		}
		if err := InputFile("ca-file", f.Global.CAFile); err != nil {
			f.httpErr = err
			return
		}
		hosts := map[string]ferryhttp.HostConfig{}
		for _, r := range cfg.Registries {
			if r.CAFile != "" || r.InsecureSkipTLSVerify {
				hosts[r.Host] = ferryhttp.HostConfig{CAFile: r.CAFile, InsecureSkipVerify: r.InsecureSkipTLSVerify}
			}
		}
		f.http, f.httpErr = ferryhttp.New(ferryhttp.Options{
			UserAgent:          "ferry/" + f.Version,
			CAFile:             f.Global.CAFile,
			InsecureSkipVerify: f.Global.InsecureSkipVerify,
			Hosts:              hosts,
			IdleTimeout:        f.Global.IdleTimeout,
			ConnectTimeout:     f.Global.ConnectTimeout,
			ResponseTimeout:    f.Global.ResponseTimeout,
			RetryMaxWait:       f.Global.RetryMaxWait,
			RetryTimeout:       f.Global.RetryTimeout,
			Logger:             f.Logger(),
		})
	})
	return f.http, f.httpErr
}

// Credentials is the docker credential store ($DOCKER_CONFIG/config.json and
// its helpers, or the file registry.creds.config names), under the basic
// credentials of the config's registry.auth.basic.
func (f *Factory) Credentials() (credentials.Store, error) {
	if f.CredentialsFunc != nil {
		return f.CredentialsFunc()
	}
	opts := credentials.StoreOptions{AllowPlaintextPut: true, DetectDefaultNativeStore: true}
	var store credentials.Store
	var err error
	cfg, cerr := f.Config()
	if cerr != nil {
		return nil, cerr
	}
	if path := cfg.CredentialsFile(); path != "" {
		store, err = credentials.NewStore(path, opts)
	} else {
		store, err = credentials.NewStoreFromDocker(opts)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the docker credential store: %w", err)
	}
	auth, err := cfg.Auth()
	if err != nil {
		return nil, err
	}
	if len(auth.Basic) == 0 {
		return store, nil
	}
	return &basicAuthStore{Store: store, basic: auth.Basic}, nil
}

// OCIClient returns a registry client with credentials and per-host settings.
func (f *Factory) OCIClient() (*oci.Client, error) {
	if f.OCIClientFunc != nil {
		return f.OCIClientFunc()
	}
	hc, err := f.HTTPClient()
	if err != nil {
		return nil, err
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	creds, err := f.Credentials()
	if err != nil {
		return nil, err
	}
	global, set := f.Global.PlainHTTP, f.Global.PlainHTTPSet
	return oci.NewClient(oci.ClientOptions{
		HTTP:        hc,
		Credentials: creds,
		Credential:  f.RegistryCredential(),
		UserAgent:   "ferry/" + f.Version,
		PlainHTTP: func(host string) bool {
			if r, ok := cfg.Registry(host); ok && r.PlainHTTP != nil && !set {
				return *r.PlainHTTP
			}
			return global
		},
	}), nil
}

// PrintJSON writes v as indented JSON to stdout.
func (f *Factory) PrintJSON(v any) error { return WriteJSON(f.IO.Out, v) }

// WriteJSON writes v to w as JSON indented by two spaces, as every -o json
// document is.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// CommandPath is cmd's path below the root, e.g. "artifact install".
func CommandPath(cmd *cobra.Command) string {
	path := cmd.CommandPath()
	if i := strings.IndexByte(path, ' '); i >= 0 {
		return path[i+1:]
	}
	return ""
}

// Resolved is where the value of a flag the command line did not set
// comes from.
type Resolved struct {
	Values []string
	// From names the source: "env NAME" or "config PATH".
	From string
	// Key is the config file's key ("" for the environment).
	Key string
}

// Resolve finds the value of flag fl of the command at path (as
// CommandPath names it) below the command line: the environment
// (FERRY_<FLAG>; in falcoctl mode FALCOCTL_<KEY> of falcoctl's keys for
// the flag), then the config file (defaults.FLAG, the file's own key for
// the flag such as events.timeout, falcoctl's keys). ok is false when
// nothing sets it: the flag's default applies.
func (f *Factory) Resolve(cfg *Config, path string, fl *pflag.Flag) (r Resolved, ok bool) {
	_, isList := fl.Value.(pflag.SliceValue)
	if k := FlagKey(fl.Name); k != nil && k.Kind == KindList {
		isList = true
	}
	env := FlagEnvName(fl.Name)
	if v := f.Getenv(env); v != "" {
		vals := []string{v}
		if isList {
			vals = strings.Split(v, ",")
		}
		return Resolved{Values: vals, From: env}, true
	}
	aliases := aliasesFor(fl.Name, path)
	if f.Falcoctl {
		for _, a := range aliases {
			names := []string{FalcoctlEnvName(a)}
			if k := LookupKey(a); k != nil {
				names = append(names, k.FalcoctlEnv...)
			}
			for _, name := range names {
				if v := f.Getenv(name); v != "" {
					vals := []string{v}
					if isList {
						vals = SplitList(v, true)
					}
					return Resolved{Values: vals, From: name}, true
				}
			}
		}
	}
	if cfg == nil {
		return Resolved{}, false
	}
	if v, found := cfg.Defaults[fl.Name]; found {
		vals := []string{v}
		if isList {
			vals = strings.Split(v, ",")
		}
		return Resolved{Values: vals, From: "config defaults." + fl.Name, Key: "defaults." + fl.Name}, true
	}
	for _, key := range append(sectionKeysFor(fl.Name), aliases...) {
		vals, list, found := cfg.Value(key)
		if !found {
			continue
		}
		if isList && !list {
			vals = SplitList(vals[0], true)
		} else if !isList && list {
			vals = []string{strings.Join(vals, ",")}
		}
		return Resolved{Values: vals, From: "config " + key, Key: key}, true
	}
	return Resolved{}, false
}

// Refs resolves a key listing references that no flag has
// (artifact.install.refs, artifact.follow.refs) as Resolve does a flag's:
// FALCOCTL_<KEY> in falcoctl mode (separated by semicolons, as falcoctl
// reads it), then the config file.
func (f *Factory) Refs(key string) ([]string, error) {
	if f.Falcoctl {
		if v := f.Getenv(FalcoctlEnvName(key)); v != "" {
			return SplitList(v, false), nil
		}
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	return cfg.Refs(key), nil
}

// ApplyPrecedence fills every flag of cmd the user did not set from the
// environment and then from the config file (see Resolve). It is the one
// place where flag > environment > config file > default is applied.
func (f *Factory) ApplyPrecedence(cmd *cobra.Command) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	path := CommandPath(cmd)
	var firstErr error
	aliasChanged := map[string]bool{}
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if IsAlias(fl) && fl.Changed {
			aliasChanged[fl.Annotations[aliasOf][0]] = true
		}
	})
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Name == "help" || firstErr != nil || IsAlias(fl) {
			return
		}
		if fl.Changed || aliasChanged[fl.Name] {
			if fl.Name == "plain-http" {
				f.Global.PlainHTTPSet = true
			}
			return
		}
		r, ok := f.Resolve(cfg, path, fl)
		if !ok {
			return
		}
		// Lists fill repeatable flags.
		if sv, isSlice := fl.Value.(pflag.SliceValue); isSlice {
			if err := sv.Replace(r.Values); err != nil {
				firstErr = Usage(fmt.Errorf("%s: %w", r.From, err))
			}
			return
		}
		val := strings.Join(r.Values, ",")
		if err := fl.Value.Set(val); err != nil {
			firstErr = Usage(fmt.Errorf("%s=%q: %w", r.From, val, err))
		}
	})
	return firstErr
}
