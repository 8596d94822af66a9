package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/Masterminds/semver/v3"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/events"
	"github.com/ferryhq/ferry/pkg/index"
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
	cmdutil.Declare(fl, "rulesfiles-dir", &d.RulesfilesDir)
	cmdutil.Declare(fl, "plugins-dir", &d.PluginsDir)
	cmdutil.Declare(fl, "assets-dir", &d.AssetsDir)
	cmdutil.Declare(fl, "state-dir", &d.StateDir)
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

// resolveOptions is the flag group that shapes resolution: dependencies,
// engine requirements, platform.
type resolveOptions struct {
	platformOptions
	ResolveDeps       bool
	EngineVersions    []string
	EngineVersionsURL string
}

func (o *resolveOptions) AddFlags(cmd *cobra.Command) {
	o.platformOptions.AddFlags(cmd)
	fl := cmd.Flags()
	cmdutil.Declare(fl, "resolve-deps", &o.ResolveDeps)
	fl.StringArrayVar(&o.EngineVersions, "engine-version", nil, "a version the engine supports, NAME=VER (e.g. engine_version_semver=0.41.0, plugin_api_version=3.7.0; repeatable)")
	cmdutil.Declare(fl, "engine-versions-url", &o.EngineVersionsURL)
}

// Engine returns the engine versions declared by flags, the URL (the
// flag, filled from the config's engine.versionsURL by precedence) or the
// config, in that order; nil when none are declared.
func (o *resolveOptions) Engine(ctx context.Context, d commandDeps) (install.Engine, error) {
	cfg, err := d.ConfigFile()
	if err != nil {
		return nil, err
	}
	engine := install.Engine{}
	maps.Copy(engine, cfg.Engine.Versions)
	if url := o.EngineVersionsURL; url != "" {
		hc, err := d.HTTPClient()
		if err != nil {
			return nil, err
		}
		read, err := install.ReadEngine(ctx, hc, url)
		if err != nil {
			return nil, err
		}
		maps.Copy(engine, read)
	}
	for _, kv := range o.EngineVersions {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return nil, cmdutil.Usage(fmt.Errorf("--engine-version %q: want NAME=VERSION", kv))
		}
		if err := install.CheckEngineVersion(v); err != nil {
			return nil, cmdutil.Usage(fmt.Errorf("--engine-version %q: %w", kv, err))
		}
		engine[k] = v
	}
	if len(engine) == 0 {
		return nil, nil
	}
	return engine, nil
}

// fetchOptions is the flag group of commands that install: which types,
// how many at once, how large.
type fetchOptions struct {
	AllowedTypes    []string
	Concurrency     int
	MaxSize         int64
	AllowUnverified bool
	installVerifyOptions
}

func (o *fetchOptions) AddFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	cmdutil.Declare(fl, "allowed-types", &o.AllowedTypes)
	fl.IntVar(&o.Concurrency, "concurrency", 4, "artifacts of 1 MiB or more downloaded at once (smaller ones: up to 32)")
	fl.Int64Var(&o.MaxSize, "max-size", install.DefaultLimits().MaxBytes, "refuse artifacts that unpack to more than this many bytes")
	fl.BoolVar(&o.AllowUnverified, "allow-unverified", false, "install an HTTP mirror file that no digest (lock file, index, SHA256SUMS, .sha256) covers, with a warning")
	o.installVerifyOptions.AddFlags(cmd)
}

func (o *fetchOptions) Validate() error {
	for _, t := range o.AllowedTypes {
		if err := oci.ValidType(t); err != nil {
			return cmdutil.Usage(fmt.Errorf("--allowed-types: %w", err))
		}
	}
	if o.Concurrency < 1 {
		return cmdutil.Usage(errors.New("--concurrency must be at least 1"))
	}
	if o.MaxSize < 1 {
		return cmdutil.Usage(errors.New("--max-size must be positive"))
	}
	return o.signatureOptions.Validate()
}

// commandDeps are what a command's run function takes from the Factory:
// streams, global flags and func-typed clients, which a test may swap. Run
// functions reach the Factory through nothing else.
type commandDeps struct {
	IO         cmdutil.IOStreams
	ConfigFile func() (*cmdutil.Config, error)
	HTTPClient func() (*http.Client, error)
	OCIClient  func() (*oci.Client, error)
	Indexes    func(context.Context) (*index.Set, error)
	Logger     func() *slog.Logger
	Getenv     func(string) string
	// Credentials is the registry credential store.
	Credentials func() (credentials.Store, error)
	// CacheDir is where fetched indexes and the Sigstore TUF metadata are
	// kept.
	CacheDir func() string
	// Global is the run's global flags (output and log format, quiet).
	Global *cmdutil.GlobalOptions
	// FerryVersion is ferry's version, for User-Agent headers.
	FerryVersion string
}

// PrintJSON writes v as indented JSON to stdout.
func (d commandDeps) PrintJSON(v any) error { return cmdutil.WriteJSON(d.IO.Out, v) }

// newCommandDeps takes the dependencies from f. The streams are read when
// the command runs: the root command adjusts them once flags are parsed.
func newCommandDeps(f *cmdutil.Factory) commandDeps {
	return commandDeps{
		ConfigFile:   f.Config,
		HTTPClient:   f.HTTPClient,
		OCIClient:    f.OCIClient,
		Indexes:      f.Indexes,
		Logger:       f.Logger,
		Getenv:       f.Getenv,
		Credentials:  f.Credentials,
		CacheDir:     f.CacheDir,
		Global:       &f.Global,
		FerryVersion: f.Version,
	}
}

// InstallOptions are the dependencies and flag values of artifact install.
type InstallOptions struct {
	commandDeps
	dirOptions
	resolveOptions
	eventsOptions
	fetchOptions
	Refs     []string
	DryRun   bool
	Locked   bool
	LockFile string
	From     string
}

// NewCmdInstall builds artifact install. runF, when not nil, receives the
// parsed and validated options instead of installRun (tests use it).
func NewCmdInstall(f *cmdutil.Factory, runF func(*InstallOptions) error) *cobra.Command {
	opts := &InstallOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "install REF...",
		Short: "Install artifacts at the highest version their constraint allows, with their dependencies",
		Long: `Install artifacts at the highest version their constraint allows.

REF is NAME, NAME:CONSTRAINT, INDEX/NAME:CONSTRAINT, NAME@sha256:HEX or a full
OCI reference HOST/REPO:TAG or HOST/REPO@sha256:HEX. CONSTRAINT is a semver
constraint: 1.x, ~1.2, ^1.2.3, ">=1.0.0 <2.0.0", 1, 1.2, 1.2.3 or latest; none
means the highest stable version. Pre-releases are picked only when the
constraint names one.

Dependencies (a rules file needs plugins) are installed too: for every
artifact, the highest version that satisfies every constraint at once. A
dependency on X 1.2.3 means X >=1.2.3 <2. An installed dependency is kept when
it satisfies, upgraded only when required, and never downgraded silently.
Requirements (engine_version_semver, plugin_api_version) are checked against
the engine's versions (--engine-version, --engine-versions-url or the config's
engine.versions); when none are declared they are reported, not enforced.

Nothing is downloaded until everything resolved. Every blob is verified
against its digest while it streams; each layer is unpacked beside its
destination and swapped in atomically. An artifact already installed at the
same digest is not downloaded again. The lock file (<state-dir>/ferry.lock)
records the exact digests installed; --locked installs exactly those.

An artifact whose index entry has a signature block (every artifact, with
--key) is installed only if its cosign signature verifies (keyless ones
against --trusted-root or Sigstore's public root); a failure installs nothing (exit 5). --no-verify
skips this, with a warning per artifact.`,
		Example: `  ferry artifact install falco-rules:3
  ferry artifact install k8saudit-rules --engine-version engine_version_semver=0.41.0 --dry-run
  ferry artifact install rules:1.x --rulesfiles-dir ./rules --state-dir ./state
  ferry artifact install --locked                      # everything in the lock file
  ferry artifact install k8saudit:0.x --platform linux/arm64 -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := refsOrConfig(f, args, "artifact.install.refs")
			if err != nil {
				return err
			}
			if len(refs) == 0 && !opts.Locked {
				return cmdutil.Usage(errors.New("give at least one REF (or --locked to install the lock file, or artifact.install.refs in the config)"))
			}
			opts.Refs = refs
			opts.IO = f.IO
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return installRun(cmd.Context(), opts)
		},
	}
	opts.dirOptions.AddFlags(cmd)
	opts.resolveOptions.AddFlags(cmd)
	opts.eventsOptions.AddFlags(cmd)
	fl := cmd.Flags()
	opts.fetchOptions.AddFlags(cmd)
	fl.BoolVar(&opts.DryRun, "dry-run", false, "resolve and print the plan (what, which version, why) without downloading or writing")
	fl.BoolVar(&opts.Locked, "locked", false, "install exactly the digests in the lock file, resolving no tag")
	fl.StringVar(&opts.LockFile, "lock-file", "", "lock file (default <state-dir>/ferry.lock)")
	fl.StringVar(&opts.From, "from", "", "install from a bundle written by ferry artifact bundle, with no network")
	cmdutil.DeclareAliases(fl)
	return cmd
}

// Validate checks the flag values before anything is read or resolved.
func (o *InstallOptions) Validate() error {
	if err := o.dirOptions.Validate(); err != nil {
		return err
	}
	if err := o.platformOptions.Validate(); err != nil {
		return err
	}
	return o.fetchOptions.Validate()
}

// refsOrConfig returns args, or when there are none the references the
// config lists under key (falcoctl's artifact.install.refs or
// artifact.follow.refs; FALCOCTL_ARTIFACT_..._REFS in falcoctl mode,
// separated by semicolons).
func refsOrConfig(f *cmdutil.Factory, args []string, key string) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	return f.Refs(key)
}

// keepHighest drops, of several references to the same artifact, all but
// the one that resolves to the highest version, as falcoctl does, with a
// note on stderr. References to different artifacts cost nothing: only the
// duplicated ones are resolved.
func keepHighest(ctx context.Context, errOut io.Writer, r *install.Resolver, refs []string) ([]string, error) {
	type group struct{ refs []string }
	groups := map[string]*group{}
	var order []string
	for _, raw := range refs {
		key := raw
		if ref, err := index.ParseReference(raw); err == nil && !ref.IsLayout() && ref.Digest == "" {
			switch {
			case ref.IsOCI():
				key = ref.Registry + "/" + ref.Repository
			default:
				if e, _, err := r.Indexes.Lookup(ref.Index, ref.Name); err == nil {
					key = e.Registry + "/" + e.Repository
				}
			}
		}
		g, ok := groups[key]
		if !ok {
			g = &group{}
			groups[key] = g
			order = append(order, key)
		}
		g.refs = append(g.refs, raw)
	}
	if len(order) == len(refs) {
		return refs, nil
	}
	out := make([]string, 0, len(order))
	for _, key := range order {
		g := groups[key]
		if len(g.refs) == 1 {
			out = append(out, g.refs[0])
			continue
		}
		best, bestVer := "", (*semver.Version)(nil)
		var discarded []string
		for _, raw := range g.refs {
			res, err := r.Resolve(ctx, raw)
			if err != nil {
				return nil, err
			}
			v, err := semver.NewVersion(res.Version)
			if err != nil {
				return nil, fmt.Errorf("%s and %s name the same artifact, and %s resolves to no version to compare", g.refs[0], g.refs[1], raw)
			}
			if bestVer == nil || v.GreaterThan(bestVer) {
				if bestVer != nil {
					discarded = append(discarded, bestVer.String())
				}
				best, bestVer = raw, v
			} else {
				discarded = append(discarded, v.String())
			}
		}
		fmt.Fprintf(errOut, "note: multiple versions of the same artifact: keeping %s (%s), discarding %s\n", best, bestVer, strings.Join(discarded, ", "))
		out = append(out, best)
	}
	return out, nil
}

func (o *InstallOptions) lockPath() string {
	if o.LockFile != "" {
		return o.LockFile
	}
	return filepath.Join(o.StateDir, "ferry.lock")
}

// installRun resolves, verifies and installs opts.Refs (or the lock file)
// and prints the results.
func installRun(ctx context.Context, opts *InstallOptions) error {
	engine, err := opts.Engine(ctx, opts.commandDeps)
	if err != nil {
		return err
	}
	em, err := opts.eventsOptions.Build(opts.commandDeps, opts.StateDir)
	if err != nil {
		return err
	}
	in, err := newInstaller(ctx, opts.commandDeps, &opts.dirOptions, &opts.resolveOptions, &opts.fetchOptions)
	if err != nil {
		return err
	}
	if opts.From != "" {
		if in.Resolver, err = bundleResolver(ctx, opts.From, opts.Platform); err != nil {
			return err
		}
		in.HostMirrors, in.Bundle = nil, opts.From
	}
	req, err := opts.request(ctx, in.Resolver, engine)
	if err != nil {
		return err
	}
	prog := newProgress(ctx, opts.commandDeps)
	if prog != nil {
		in.Progress = prog
	}
	results, err := in.Install(ctx, req)
	prog.Wait()
	err = errors.Join(err, emitDownloaded(ctx, opts.commandDeps, em, results))
	if perr := printInstallResults(opts, results, req.Engine == nil, err); perr != nil {
		return perr
	}
	return err
}

// request is the install the flags ask for: the references (of several to
// one artifact, the highest) or the lock file's, dry run and lock file.
func (o *InstallOptions) request(ctx context.Context, r *install.Resolver, engine install.Engine) (install.Request, error) {
	req := install.Request{Refs: o.Refs, DryRun: o.DryRun, Engine: engine, LockPath: o.lockPath()}
	var err error
	if o.Locked {
		req.Locked, err = install.ReadLock(o.lockPath())
		err = cmdutil.MissingFile(err)
	} else {
		req.Refs, err = keepHighest(ctx, o.IO.ErrOut, r, o.Refs)
	}
	return req, err
}

// printInstallResults prints what an install did: a JSON list (nothing
// when it failed having installed nothing: the error says it all, on
// stderr), or one block per artifact and, when no engine versions were
// declared, the requirements left unchecked.
func printInstallResults(opts *InstallOptions, results []install.Result, unchecked bool, err error) error {
	if opts.Global.JSON() {
		if err == nil || len(results) > 0 {
			if perr := opts.PrintJSON(installResultViews(results)); perr != nil {
				return perr
			}
		}
	} else {
		for _, r := range results {
			printResult(opts.commandDeps, r)
		}
		if unchecked {
			printUnchecked(opts.IO.ErrOut, results)
		}
	}
	printUnverified(opts.IO.ErrOut, results)
	return nil
}

// bundleResolver resolves against a bundle alone: its index and its OCI
// layout, with no network.
func bundleResolver(ctx context.Context, path, platform string) (*install.Resolver, error) {
	idx, err := install.ReadBundleIndex(path)
	if err != nil {
		return nil, cmdutil.MissingFile(err)
	}
	layout, err := oci.OpenLayoutTar(ctx, path)
	if err != nil {
		return nil, err
	}
	return &install.Resolver{Indexes: index.NewSet(idx), Client: oci.NewClient(oci.ClientOptions{Layout: layout}), Platform: platform}, nil
}

// newInstaller builds the installer that install and follow share: the
// resolver, the store and its limits, the directories, mirrors and HTTP
// client.
func newInstaller(ctx context.Context, deps commandDeps, d *dirOptions, r *resolveOptions, o *fetchOptions) (*install.Installer, error) {
	set, err := deps.Indexes(ctx)
	if err != nil {
		return nil, err
	}
	client, err := deps.OCIClient()
	if err != nil {
		return nil, err
	}
	resolver := &install.Resolver{Indexes: set, Client: client, Platform: r.Platform}
	limits := install.DefaultLimits()
	limits.MaxBytes = o.MaxSize
	in := &install.Installer{
		Resolver:     resolver,
		Store:        &install.Store{StateDir: d.StateDir, Limits: limits},
		Dirs:         d.ByType(),
		AllowedTypes: o.AllowedTypes,
		Concurrency:  o.Concurrency,
		ResolveDeps:  r.ResolveDeps,

		AllowUnverified: o.AllowUnverified,
	}
	if in.HostMirrors, err = hostMirrors(deps.ConfigFile); err != nil {
		return nil, err
	}
	if in.HTTP, err = deps.HTTPClient(); err != nil {
		return nil, err
	}
	if in.Signatures, err = o.installVerifyOptions.Policy(deps); err != nil {
		return nil, err
	}
	return in, nil
}

// emitDownloaded sends one artifact.downloaded event per artifact this run
// downloaded; when it downloaded nothing, it still resends what earlier runs
// spooled.
func emitDownloaded(ctx context.Context, deps commandDeps, em *events.Emitter, results []install.Result) error {
	if !em.Enabled() {
		return nil
	}
	var errs []error
	sent := false
	for _, r := range results {
		if r.Status != install.StatusInstalled {
			continue
		}
		sent = true
		w, err := em.Downloaded(ctx, eventArtifact(r, registryUser(ctx, deps, em, r.Registry)))
		printEventWarnings(deps.IO.ErrOut, w)
		errs = append(errs, err)
	}
	if !sent && em.SpoolDir() != "" {
		if spooled, err := events.List(em.SpoolDir()); err == nil && len(spooled) > 0 {
			_, w, _ := em.Flush(ctx)
			printEventWarnings(deps.IO.ErrOut, w)
		}
	}
	return errors.Join(errs...)
}

// printUnchecked reports, on stderr, requirements nothing declared engine
// versions for.
func printUnchecked(errOut io.Writer, results []install.Result) {
	var reqs []string
	for _, r := range results {
		for _, u := range r.Unchecked {
			reqs = append(reqs, fmt.Sprintf("%s %s needs %s %s", r.Name, r.Version, u.Name, u.Version))
		}
	}
	if len(reqs) > 0 {
		fmt.Fprintf(errOut, "note: requirements not checked (declare the engine's versions with --engine-version or --engine-versions-url): %s\n", strings.Join(reqs, "; "))
	}
}

func printResult(d commandDeps, r install.Result) {
	if d.Global.LogFormat == "json" {
		printResultLog(d, r)
		return
	}
	out := d.IO.Out
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
	for _, why := range r.Reasons {
		fmt.Fprintf(out, "  because %s\n", why)
	}
	// The channel that served it: a mirror when the primary did not.
	at := r.Registry + "/" + r.Repository
	if s, ok := strings.CutPrefix(r.Source, "oci://"); ok && s != "" {
		at = s
	}
	from := at + ":" + r.Tag
	if r.Tag == "" {
		from = at + "@" + r.Digest
	}
	if s := plainSource(r); s != "" {
		from = s
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

// hostMirrors turns the config's registries block into the mirrors tried
// before a registry host and, with fallbackOnly, after it.
func hostMirrors(config func() (*cmdutil.Config, error)) (install.HostMirrors, error) {
	cfg, err := config()
	if err != nil {
		return nil, err
	}
	return func(host string) (before, after []string) {
		r, ok := cfg.Registry(host)
		if !ok {
			return nil, nil
		}
		if r.FallbackOnly {
			return nil, r.Mirrors
		}
		return r.Mirrors, nil
	}, nil
}
