package cmdutil

import (
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
	ConnectTimeout     time.Duration
	ResponseTimeout    time.Duration
	RetryMaxWait       time.Duration
	RetryTimeout       time.Duration
}

// AddFlags binds the global flags.
func (g *GlobalOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.ConfigPath, "config", "", "config file (default $XDG_CONFIG_HOME/ferry/config.yaml)")
	fs.StringVarP(&g.Output, "output", "o", "text", "output format: text or json")
	fs.StringVar(&g.LogLevel, "log-level", "warn", "log level on stderr: error, warn, info or debug")
	fs.BoolVarP(&g.Quiet, "quiet", "q", false, "no progress, only results and errors")
	fs.BoolVar(&g.PlainHTTP, "plain-http", false, "talk plain HTTP, not HTTPS, to registries")
	fs.StringVar(&g.CAFile, "ca-file", "", "PEM file of CA certificates to trust for registries and mirrors")
	fs.BoolVar(&g.InsecureSkipVerify, "insecure-skip-tls-verify", false, "do not verify registry TLS certificates")
	fs.DurationVar(&g.IdleTimeout, "idle-timeout", ferryhttp.DefaultIdleTimeout, "give up on a download that receives no byte for this long (then it resumes or the next channel is tried)")
	fs.DurationVar(&g.ConnectTimeout, "connect-timeout", ferryhttp.DefaultConnectTimeout, "give up on a connection (TCP, a proxy's CONNECT, TLS) not ready after this long")
	fs.DurationVar(&g.ResponseTimeout, "response-timeout", ferryhttp.DefaultResponseTimeout, "give up on a request whose response headers do not come within this long")
	fs.DurationVar(&g.RetryMaxWait, "retry-max-wait", ferryhttp.DefaultRetryMaxWait, "longest wait before a retry; a server asking for more (Retry-After) fails the request at once")
	fs.DurationVar(&g.RetryTimeout, "retry-timeout", ferryhttp.DefaultRetryTimeout, "start no retry of a request later than this after its first attempt")
}

// Validate checks the global flag values.
func (g *GlobalOptions) Validate() error {
	if g.Output != "text" && g.Output != "json" {
		return Usage(fmt.Errorf("--output must be text or json, not %q", g.Output))
	}
	switch g.LogLevel {
	case "error", "warn", "info", "debug":
	default:
		return Usage(fmt.Errorf("--log-level must be error, warn, info or debug, not %q", g.LogLevel))
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

// ConfigPath is the config file in use.
func (f *Factory) ConfigPath() string {
	if f.Global.ConfigPath != "" {
		return f.Global.ConfigPath
	}
	if p := f.Getenv("FERRY_CONFIG"); p != "" {
		return p
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

// Config loads the config file once.
func (f *Factory) Config() (*Config, error) {
	f.configOnce.Do(func() { f.config, f.configErr = LoadConfig(f.ConfigPath()) })
	return f.config, f.configErr
}

// Logger logs to stderr at the chosen level.
func (f *Factory) Logger() *slog.Logger {
	level := map[string]slog.Level{"error": slog.LevelError, "warn": slog.LevelWarn, "info": slog.LevelInfo, "debug": slog.LevelDebug}[f.Global.LogLevel]
	return slog.New(slog.NewTextHandler(f.IO.ErrOut, &slog.HandlerOptions{Level: level}))
}

// HTTPClient is the one HTTP client of the run.
func (f *Factory) HTTPClient() (*http.Client, error) {
	f.httpOnce.Do(func() {
		cfg, err := f.Config()
		if err != nil {
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
// its helpers).
func (f *Factory) Credentials() (credentials.Store, error) {
	store, err := credentials.NewStoreFromDocker(credentials.StoreOptions{AllowPlaintextPut: true, DetectDefaultNativeStore: true})
	if err != nil {
		return nil, fmt.Errorf("opening the docker credential store: %w", err)
	}
	return store, nil
}

// OCIClient returns a registry client with credentials and per-host settings.
func (f *Factory) OCIClient() (*oci.Client, error) {
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
	global := f.Global.PlainHTTP
	return oci.NewClient(oci.ClientOptions{
		HTTP:        hc,
		Credentials: creds,
		UserAgent:   "ferry/" + f.Version,
		PlainHTTP: func(host string) bool {
			if r, ok := cfg.Registry(host); ok && r.PlainHTTP != nil {
				return *r.PlainHTTP
			}
			return global
		},
	}), nil
}

// PrintJSON writes v as indented JSON to stdout.
func (f *Factory) PrintJSON(v any) error {
	enc := json.NewEncoder(f.IO.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ApplyPrecedence fills every flag of cmd the user did not set from the
// environment (FERRY_<FLAG_NAME>) and then from the config's defaults. It is
// the one place where flag > environment > config file > default is applied.
func (f *Factory) ApplyPrecedence(cmd *cobra.Command) error {
	var firstErr error
	cfgDefaults := map[string]string{}
	if cfg, err := f.Config(); err == nil {
		cfgDefaults = cfg.Defaults
	} else {
		return err
	}
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Changed || fl.Name == "help" || firstErr != nil {
			return
		}
		env := "FERRY_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		val, ok := f.Getenv(env), false
		from := env
		if val != "" {
			ok = true
		} else if v, found := cfgDefaults[fl.Name]; found {
			val, ok, from = v, true, "config defaults."+fl.Name
		}
		if !ok {
			return
		}
		// Comma lists from the environment fill repeatable flags.
		if sv, isSlice := fl.Value.(pflag.SliceValue); isSlice {
			if err := sv.Replace(strings.Split(val, ",")); err != nil {
				firstErr = Usage(fmt.Errorf("%s: %w", from, err))
			}
			return
		}
		if err := fl.Value.Set(val); err != nil {
			firstErr = Usage(fmt.Errorf("%s=%q: %w", from, val, err))
		}
	})
	return firstErr
}
