package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/driver"
	"github.com/ferryhq/ferry/pkg/events"
)

const driverNotFoundHint = "no prebuilt driver exists for this kernel in these repositories: " +
	"install Falco's driver sources and the kernel headers and keep --compile on (the default) to build it here, " +
	"add a repository that has it with --repo, or use --type modern_ebpf (kernel >= 5.8), which needs no download"

// driverOptions is the flag group every driver command shares; the names are
// falcoctl's.
type driverOptions struct {
	Types         []string
	Version       string
	Repos         []string
	Name          string
	HostRoot      string
	KernelRelease string
	KernelVersion string
}

func (o *driverOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&o.Types, "type", []string{string(driver.ModernEBPF), string(driver.Kmod)},
		"driver types in order of preference: kmod, ebpf, modern_ebpf, or auto (modern_ebpf,kmod); the first the kernel supports is used")
	fs.StringVar(&o.Version, "version", "", "driver version, e.g. 8.0.0+driver (default: the highest /usr/src/<name>-<version> under / or --host-root)")
	fs.StringSliceVar(&o.Repos, "repo", []string{driver.DefaultRepo}, "driver repository URL, tried in order (repeatable)")
	fs.StringVar(&o.Name, "name", "falco", "driver name")
	fs.StringVar(&o.HostRoot, "host-root", "/", "root of the host file system: os-release, the driver sources and the kernel headers are read and drivers installed under it (default: $HOST_ROOT, else /)")
	fs.StringVar(&o.KernelRelease, "kernelrelease", "", "kernel release as uname -r prints it (default: the running kernel's), e.g. 6.1.0-10-cloud-amd64")
	fs.StringVar(&o.KernelVersion, "kernelversion", "", "kernel version as uname -v prints it (default: the running kernel's), e.g. '#1 SMP PREEMPT_DYNAMIC Debian 6.1.38-2 (2023-07-27)'")
}

// resolve fills host-root from HOST_ROOT when neither the flag nor
// FERRY_HOST_ROOT set it (as falcoctl reads it), then validates the flags.
// The config file's driver section (falcoctl's driver.{type, name, repos,
// version, hostRoot}, which 'driver config' writes) reaches the flags
// through the key table, like every other key.
func (o *driverOptions) resolve(cmd *cobra.Command, f *cmdutil.Factory) error {
	if fl := cmd.Flags().Lookup("host-root"); fl != nil && !fl.Changed && f.Getenv("FERRY_HOST_ROOT") == "" {
		if hr := f.Getenv("HOST_ROOT"); hr != "" {
			o.HostRoot = hr
		}
	}
	return o.Validate()
}

func (o *driverOptions) Validate() error {
	if !filepath.IsAbs(o.HostRoot) {
		return cmdutil.Usage(fmt.Errorf("--host-root must be an absolute path, not %q", o.HostRoot))
	}
	if strings.Contains(o.Name, " ") {
		return cmdutil.Usage(fmt.Errorf("--name %q is not a driver name: contains a space", o.Name))
	}
	if why := driver.SafeElement(o.Name); why != "" {
		return cmdutil.Usage(fmt.Errorf("--name %q is not a driver name: %s", o.Name, why))
	}
	if why := driver.SafeElement(o.Version); why != "" && o.Version != "" {
		return cmdutil.Usage(fmt.Errorf("--version %q is not a driver version: %s", o.Version, why))
	}
	if _, err := driver.ParseTypes(o.Types); err != nil {
		return cmdutil.Usage(fmt.Errorf("--type: %w", err))
	}
	if len(o.Repos) == 0 {
		return cmdutil.Usage(errors.New("--repo: at least one driver repository is needed"))
	}
	for _, r := range o.Repos {
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cmdutil.Usage(fmt.Errorf("--repo %q is not an http(s) URL", r))
		}
	}
	return nil
}

// detect reads the kernel (uname, unless overridden) and the host's
// distribution; warnings are logged.
func (o *driverOptions) detect(log *slog.Logger) (driver.Target, error) {
	k, err := driver.HostKernel(o.KernelRelease, o.KernelVersion)
	if err != nil {
		return driver.Target{}, err
	}
	t, err := driver.Detect(o.HostRoot, k)
	if err != nil {
		return t, fmt.Errorf("detecting the host under %s: %w", o.HostRoot, err)
	}
	for _, w := range t.Warnings {
		log.Warn(w)
	}
	return t, nil
}

// chooseType picks the first requested type the target's kernel supports.
func (o *driverOptions) chooseType(t driver.Target) (driver.Type, error) {
	types, err := driver.ParseTypes(o.Types)
	if err != nil {
		return "", cmdutil.Usage(err)
	}
	return driver.ChooseType(types, t)
}

// driverVersion is --version, or the highest version whose sources are
// installed under / or the host root.
func (o *driverOptions) driverVersion() string {
	if o.Version != "" {
		return o.Version
	}
	return driver.DetectVersion(o.Name, "/", o.HostRoot)
}

// falcoDir is where Falco, running as root on the host, looks for drivers:
// <host root>/root/.falco (falco-driver-loader's and falcoctl's ~/.falco).
func (o *driverOptions) falcoDir() string { return driver.HostInstallDir(o.HostRoot) }

func newCmdDriver(f *cmdutil.Factory) *cobra.Command {
	opts := &driverOptions{}
	cmd := &cobra.Command{
		Use:   "driver",
		Short: "Install the kernel driver Falco needs",
		Long: `Install the kernel driver Falco needs: the kernel module (kmod) or the legacy
eBPF probe (ebpf), prebuilt by the Falco project for each distribution and
kernel, or built on this host from Falco's driver sources when none is
prebuilt; the modern eBPF probe (modern_ebpf) is built into Falco and needs
none.

Flags not given are read from the config file's driver section (written by
'driver config'); --host-root defaults to $HOST_ROOT.

The distribution is read from <host-root>/etc/os-release (or
/usr/lib/os-release, /etc/VERSION, /etc/debian_version, /etc/centos-release,
/etc/redhat-release) and the kernel from uname, unless --kernelrelease and
--kernelversion say otherwise; per-distribution fix-ups (falcoctl's) give the
file name. See 'ferry driver printenv'.`,
	}
	opts.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		NewCmdDriverPrintenv(f, opts, nil),
		NewCmdDriverInstall(f, opts, nil),
		NewCmdDriverCleanup(f, opts, nil),
		NewCmdDriverConfig(f, opts, nil),
	)
	return cmd
}

// shellQuote quotes s as falcoctl does (Go's %q), and escapes "$" and "`"
// too, so that a shell sourcing the output expands nothing.
func shellQuote(s string) string {
	q := strconv.Quote(s)
	return strings.NewReplacer("$", `\$`, "`", "\\`").Replace(q)
}

// DriverInstallOptions are the dependencies and flag values of driver
// install; the driver flag group is its parent's.
type DriverInstallOptions struct {
	commandDeps
	*driverOptions
	eventsOptions
	CacheDir string
	StateDir string
	SHA256   string
	Load     bool
	DryRun   bool
	MaxSize  int64
	// falcoctl's flags.
	Download        bool
	Compile         bool
	DownloadHeaders bool
	HTTPInsecure    bool
	HTTPTimeout     time.Duration
	HTTPHeaders     string
	// Builds.
	KernelDir    string
	BuildLogDir  string
	BuildTimeout time.Duration
	NoDKMS       bool
	ProbeLinks   []string
	// DownloadHeadersSet says --download-headers was given.
	DownloadHeadersSet bool
}

// NewCmdDriverInstall builds driver install over its parent's driver flag
// group. runF, when not nil, receives the parsed and validated options
// instead of driverInstallRun (tests use it).
func NewCmdDriverInstall(f *cmdutil.Factory, dopts *driverOptions, runF func(*DriverInstallOptions) error) *cobra.Command {
	opts := &DriverInstallOptions{commandDeps: newCommandDeps(f), driverOptions: dopts}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install the driver for this kernel: cached, downloaded prebuilt, or built here",
		Long: `Install the driver for this kernel: from the cache, else downloaded prebuilt
(--download, on by default), else built on this host (--compile, on by
default), in that order, as falcoctl does.

Download: the file <repo>/<url-escaped driver version>/<arch>/<name>_<target
id>_<kernel release>_<kernel version>.ko (.o for ebpf) is fetched from the
first --repo that has it, verified when a digest is known (--sha256, or a
sha256sum file at the same URL + ".sha256" when the repository serves one),
and cached as Falco does under --cache-dir: <cache>/<driver version>/<arch>/<file>.
A cached file is used without any request.

Build, when no repository has the file (or --download=false): from the
driver sources Falco's packages install at <host-root>/usr/src/<name>-<version>
(else /usr/src/<name>-<version>), against the kernel headers found at
<host-root>/lib/modules/<release>/build, /usr/src/kernels/<release> or
/usr/src/linux-headers-<release> (else the same under /; --kernel-dir to
choose). kmod: 'dkms install -m <name> -v <version> -k <release>' when dkms
is installed and the sources have a dkms.conf, the module then taken from
DKMS's tree (/var/lib/dkms/<name>/<version>/<release>/<arch>/module); else
'make -C <headers> M=<copy of the sources> modules'. If the default compiler
fails, every other gcc* installed beside gcc is tried, as driverkit does.
ebpf: 'make -C <sources>/bpf KERNELDIR=<headers>' with clang and llc,
giving probe.o. The result must be a module whose vermagic names the kernel
release (or a BPF object). The build's output goes to
<state-dir>/driver-build/<driver version>/<file>.log (--build-log-dir); a failed build
prints the log's last lines and its path. The built file is cached and
installed under the same name a download would have. No sources: exit 3,
naming where ferry looked; no headers: exit 3, naming the paths and the
package to install; a failed build: exit 1. Nothing is installed when any
step fails. With --sha256, nothing is built (a build cannot have that
digest). ferry never downloads kernel headers: --download-headers is
accepted for falcoctl's command lines and does nothing.

Install: atomically where Falco looks for the driver when it runs as root on
the host, <host-root>/root/.falco/<driver version>/<arch>/<file>; for ebpf,
<host-root>/root/.falco/<name>-bpf.o (Falco's default engine.ebpf.probe) and
<cache>/<name>-bpf.o (where the legacy loader put it, for Falco containers
given $HOME/.falco) link to it. What is installed is recorded under
--state-dir for 'ferry driver cleanup'. With --load, a kernel module is
loaded: rmmod of the loaded one, then insmod (needs root). modern_ebpf needs
no file. A download emits artifact.downloaded (see 'ferry events'); a
cached or built driver emits nothing, since nothing was downloaded.`,
		Example: `  ferry driver install --type kmod --version 8.0.0+driver --load
  ferry driver install --host-root /host --repo https://mirror.internal/driver --repo https://download.falco.org/driver
  ferry driver install --type kmod --download=false          # build it here
  ferry driver install --type kmod --load --dry-run`,
		// falcoctl's install takes (and ignores) arguments: the
		// driver-loader entrypoint's unquoted --kernelversion=$2 splits
		// "#1 SMP ..." into several. They are ignored with a warning.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				f.Logger().Warn("ignoring arguments, as falcoctl does (quote a --kernelversion with spaces)", "args", strings.Join(args, " "))
			}
			opts.IO = f.IO
			opts.DownloadHeadersSet = cmd.Flags().Changed("download-headers")
			if err := opts.resolve(cmd, f); err != nil {
				return err
			}
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return driverInstallRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.CacheDir, "cache-dir", "", "download cache, laid out as Falco's (default $HOME/.falco)")
	fl.StringVar(&opts.StateDir, "state-dir", "/var/lib/ferry", "directory for ferry's install state")
	fl.StringVar(&opts.SHA256, "sha256", "", "expected sha256 of the driver file (hex); a mismatch fails with exit code 5")
	fl.BoolVar(&opts.Load, "load", false, "load the kernel module once installed (rmmod, insmod; needs root)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the URLs, paths, build and commands without downloading, building, writing or running anything")
	fl.Int64Var(&opts.MaxSize, "max-size", driver.DefaultMaxBytes, "refuse driver files larger than this many bytes")
	fl.BoolVar(&opts.Download, "download", true, "download a prebuilt driver (falcoctl's flag)")
	fl.BoolVar(&opts.Compile, "compile", true, "build the driver on this host when no prebuilt one is found (falcoctl's flag)")
	fl.BoolVar(&opts.DownloadHeaders, "download-headers", true, "accepted for falcoctl's command lines: ferry never downloads kernel headers (install them with the package manager)")
	fl.BoolVar(&opts.HTTPInsecure, "http-insecure", false, "do not verify the driver repositories' TLS certificates (falcoctl's flag)")
	fl.DurationVar(&opts.HTTPTimeout, "http-timeout", 60*time.Second, "bound on each driver download request, body included (falcoctl's flag)")
	fl.StringVar(&opts.HTTPHeaders, "http-headers", "", "comma-separated headers for the driver downloads, e.g. 'x-emc-namespace: default,Proxy-Authenticate: Basic' (falcoctl's flag)")
	fl.StringVar(&opts.KernelDir, "kernel-dir", "", "kernel build directory (headers) to build against (default: looked up under --host-root, then /)")
	fl.StringVar(&opts.BuildLogDir, "build-log-dir", "", "directory for build logs (default <state-dir>/driver-build)")
	fl.DurationVar(&opts.BuildTimeout, "build-timeout", driver.DefaultBuildTimeout, "bound on each build attempt")
	fl.BoolVar(&opts.NoDKMS, "no-dkms", false, "build the kernel module with make even when dkms is installed")
	fl.StringSliceVar(&opts.ProbeLinks, "probe-link", nil, "also link this absolute path to the installed eBPF probe (falco-driver-loader's FALCO_BPF_PROBE; repeatable)")
	opts.eventsOptions.AddFlags(cmd)
	return cmd
}

// parseHTTPHeaders parses falcoctl's --http-headers: "Key: value" pairs
// separated by commas.
func parseHTTPHeaders(s string) (http.Header, error) {
	h := http.Header{}
	if strings.TrimSpace(s) == "" {
		return h, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t\r\n") || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("%q is not a 'Key: value' header", kv)
		}
		h.Add(k, strings.TrimSpace(v))
	}
	return h, nil
}

// Validate checks the flag values before the host is read.
func (o *DriverInstallOptions) Validate() error {
	if err := o.driverOptions.Validate(); err != nil {
		return err
	}
	if o.SHA256 != "" {
		if _, err := ferryhttp.NormalizeSHA256(o.SHA256); err != nil {
			return cmdutil.Usage(fmt.Errorf("--sha256: %w", err))
		}
	}
	if o.MaxSize < 1 {
		return cmdutil.Usage(errors.New("--max-size must be positive"))
	}
	if o.HTTPTimeout <= 0 || o.BuildTimeout <= 0 {
		return cmdutil.Usage(errors.New("--http-timeout and --build-timeout must be positive"))
	}
	if _, err := parseHTTPHeaders(o.HTTPHeaders); err != nil {
		return cmdutil.Usage(fmt.Errorf("--http-headers: %w", err))
	}
	if strings.TrimSpace(o.StateDir) == "" {
		return cmdutil.Usage(errors.New("--state-dir must not be empty"))
	}
	for _, l := range o.ProbeLinks {
		if !filepath.IsAbs(l) {
			return cmdutil.Usage(fmt.Errorf("--probe-link must be an absolute path, not %q", l))
		}
	}
	if o.KernelDir != "" && !filepath.IsAbs(o.KernelDir) {
		return cmdutil.Usage(fmt.Errorf("--kernel-dir must be an absolute path, not %q", o.KernelDir))
	}
	return nil
}

// cacheDir is --cache-dir, or Falco's $HOME/.falco (driver.DefaultCacheDir).
func (o *DriverInstallOptions) cacheDir() (string, error) {
	if o.CacheDir != "" {
		return o.CacheDir, nil
	}
	dir, err := driver.DefaultCacheDir(o.Getenv)
	if err != nil {
		return "", cmdutil.Usage(errors.New("--cache-dir: no home directory; pass --cache-dir"))
	}
	return dir, nil
}

// driverInstallRun detects the host, chooses the driver and installs it
// (cached, downloaded or built), then prints the result.
func driverInstallRun(ctx context.Context, opts *DriverInstallOptions) error {
	log := opts.Logger()
	req, err := opts.request(log)
	if err != nil {
		return err
	}
	in, err := opts.installer(log)
	if err != nil {
		return err
	}
	em, err := opts.eventsOptions.Build(opts.commandDeps, opts.StateDir)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := in.Install(ctx, req)
	// A file fetched from a repository is a download, even when loading it
	// failed afterwards; a built one is not.
	if res != nil && em.Enabled() && res.Downloaded {
		w, eerr := em.Downloaded(ctx, events.Artifact{Name: res.Name, Version: res.Version, Digest: "sha256:" + res.SHA256,
			URL: res.URL, ServedBy: res.URL, Path: res.Path, Bytes: res.Bytes, Duration: time.Since(start)})
		printEventWarnings(opts.IO.ErrOut, w)
		if err == nil {
			err = eerr
		}
	}
	if err != nil {
		return driverInstallError(opts.IO.ErrOut, err)
	}
	if opts.Global.JSON() {
		return opts.PrintJSON(newDriverInstallView(res))
	}
	printDriverResult(opts.IO.Out, res)
	return nil
}

// request detects the host (or takes the flags' target), chooses the
// driver type and version, and turns the flags into the install request.
func (o *DriverInstallOptions) request(log *slog.Logger) (driver.Request, error) {
	cacheDir, err := o.cacheDir()
	if err != nil {
		return driver.Request{}, err
	}
	t, err := o.detect(log)
	if err != nil {
		return driver.Request{}, err
	}
	typ, err := o.chooseType(t)
	if err != nil {
		return driver.Request{}, err
	}
	version := o.driverVersion()
	if version == "" && typ.NeedsFile() {
		return driver.Request{}, cmdutil.Usage(fmt.Errorf("--version is required: no %s to read the driver version from",
			filepath.Join(o.HostRoot, "usr", "src", o.Name+"-<version>")))
	}
	if typ.NeedsFile() {
		if err := driver.CheckNames(o.Name, version, t); err != nil {
			return driver.Request{}, cmdutil.Usage(err)
		}
	}
	if o.Compile && o.DownloadHeadersSet && o.DownloadHeaders {
		log.Info("--download-headers: ferry does not download kernel headers; install them with the package manager")
	}
	if o.Load && typ == driver.Kmod && o.KernelRelease != "" {
		if running, err := driver.HostKernel("", ""); err == nil && running.Release != o.KernelRelease {
			log.Warn("--load: the module is for kernel "+o.KernelRelease+" but "+running.Release+" is running; insmod will likely refuse it",
				"kernelrelease", o.KernelRelease, "running", running.Release)
		}
	}
	return driver.Request{
		Name: o.Name, Version: version, Type: typ, Target: t, Repos: o.Repos, SHA256: o.SHA256,
		CacheDir: cacheDir, InstallDir: o.falcoDir(), StateDir: o.StateDir,
		Load: o.Load, DryRun: o.DryRun, MaxBytes: o.MaxSize, ProbeLinks: o.ProbeLinks,
		NoDownload: !o.Download, Compile: o.Compile,
		Build: driver.BuildOptions{HostRoot: o.HostRoot, KernelDir: o.KernelDir, LogDir: o.BuildLogDir,
			Timeout: o.BuildTimeout, NoDKMS: o.NoDKMS},
	}, nil
}

// installer is the driver installer of the HTTP flags: --http-headers,
// --http-timeout, --http-insecure.
func (o *DriverInstallOptions) installer(log *slog.Logger) (*driver.Installer, error) {
	header, err := parseHTTPHeaders(o.HTTPHeaders)
	if err != nil {
		return nil, cmdutil.Usage(fmt.Errorf("--http-headers: %w", err))
	}
	if o.HTTPInsecure {
		o.Global.InsecureSkipVerify = true
	}
	hc, err := o.HTTPClient()
	if err != nil {
		return nil, err
	}
	client := *hc
	client.Timeout = o.HTTPTimeout
	return &driver.Installer{HTTP: &client, Header: header, Progress: driverProgress(log)}, nil
}

// driverProgress logs the steps of an install.
func driverProgress(log *slog.Logger) func(driver.Event) {
	return func(e driver.Event) {
		switch e.Step {
		case "miss":
			log.Info("driver not served", "url", e.URL, "reason", e.Err)
		case "try":
			log.Info("trying", "url", e.URL)
		case "build":
			log.Info("building the driver", "sources", e.Path)
		default:
			log.Info(e.Step, "url", e.URL, "path", e.Path)
		}
	}
}

// driverInstallError gives a failed install its exit code and hint; a
// failed build first prints the end of its log.
func driverInstallError(errOut io.Writer, err error) error {
	var be *driver.BuildError
	switch {
	case errors.As(err, &be):
		fmt.Fprintf(errOut, "the last lines of the build log %s:\n", be.Log)
		for _, l := range be.Tail {
			fmt.Fprintf(errOut, "  | %s\n", l)
		}
		return &cmdutil.CodedError{Code: cmdutil.ExitError, Err: err,
			Hint: "read the whole build log; a newer driver version, other kernel headers (--kernel-dir) or --type modern_ebpf (kernel >= 5.8) may help"}
	case errors.As(err, new(*driver.DownloadError)) && !errors.Is(err, driver.ErrNotFound):
		// A repository failed (not a 404) and nothing could be built
		// instead: the repository's failure is the error.
		return err
	case errors.Is(err, driver.ErrNoHeaders):
		return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: err,
			Hint: "install the kernel headers for this kernel, or pass --kernel-dir; or use --type modern_ebpf (kernel >= 5.8), which needs no build"}
	case errors.Is(err, driver.ErrNoSource):
		return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: err,
			Hint: "no prebuilt driver, and none can be built here: install Falco's driver sources (its packages put them in /usr/src) and the kernel headers, " +
				"add a repository that has it with --repo, or use --type modern_ebpf (kernel >= 5.8), which needs neither"}
	case errors.Is(err, driver.ErrNotFound), errors.Is(err, driver.ErrUnsupported):
		return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: err, Hint: driverNotFoundHint}
	case errors.Is(err, driver.ErrLoad):
		return &cmdutil.CodedError{Code: cmdutil.ExitError, Err: err,
			Hint: "loading a kernel module needs root (CAP_SYS_MODULE), and with Secure Boot a signed module; the driver is installed, run without --load to only install it"}
	}
	return err
}

func printDriverResult(w io.Writer, r *driver.Result) {
	switch r.Status {
	case driver.StatusNotNeeded:
		if r.Type.NeedsFile() {
			fmt.Fprintf(w, "%s\n", upperFirst(r.Note))
			return
		}
		fmt.Fprintf(w, "Nothing to install for %s: %s\n", r.Type, r.Note)
		return
	case driver.StatusUpToDate:
		fmt.Fprintf(w, "%s is up to date\n", upperFirst(r.What()))
	case driver.StatusWouldInstall:
		fmt.Fprintf(w, "Would install the %s\n", r.What())
	default:
		if r.Built {
			fmt.Fprintf(w, "Built and installed the %s\n", r.What())
			break
		}
		fmt.Fprintf(w, "Installed the %s\n", r.What())
	}
	printDriverSource(w, r)
	printDriverSHA256(w, r)
	if !r.Cached || r.Status == driver.StatusWouldInstall {
		fmt.Fprintf(w, "  cache   %s\n", r.CachePath)
	}
	fmt.Fprintf(w, "  file    %s\n", r.Path)
	for _, l := range []string{r.Link, r.CacheLink} {
		if l != "" {
			fmt.Fprintf(w, "  link    %s\n", l)
		}
	}
	printDriverCommands(w, r)
	if r.Note != "" && r.Status != driver.StatusNotNeeded {
		fmt.Fprintf(w, "  note    %s\n", r.Note)
	}
}

// printDriverSource prints where the driver came from (or, in a dry run,
// would): the cache, the repositories tried, a local build.
func printDriverSource(w io.Writer, r *driver.Result) {
	switch {
	case r.Status == driver.StatusWouldInstall && r.Cached:
		fmt.Fprintf(w, "  from    cache %s\n", r.CachePath)
	case r.Status == driver.StatusWouldInstall:
		for _, u := range r.URLs {
			fmt.Fprintf(w, "  try     %s\n", u)
		}
		if b := r.Build; b != nil {
			fmt.Fprintf(w, "  build   %s from %s against %s%s\n", b.Method, b.SourceDir, b.KernelDir, map[bool]string{true: " (if no repository has it)"}[len(r.URLs) > 0])
			fmt.Fprintf(w, "  log     %s\n", b.Log)
		}
	case r.Cached:
		fmt.Fprintf(w, "  from    cache %s\n", r.CachePath)
	case r.Built:
		for _, a := range r.Tried {
			fmt.Fprintf(w, "  skipped %s (%s)\n", a.URL, a.Error)
		}
		fmt.Fprintf(w, "  built   %s from %s against %s\n", r.Build.Method, r.Build.SourceDir, r.Build.KernelDir)
		fmt.Fprintf(w, "  log     %s\n", r.Build.Log)
	default:
		fmt.Fprintf(w, "  from    %s\n", r.URL)
		for _, a := range r.Tried {
			fmt.Fprintf(w, "  skipped %s (%s)\n", a.URL, a.Error)
		}
	}
}

// printDriverSHA256 prints the file's digest and how it was checked.
func printDriverSHA256(w io.Writer, r *driver.Result) {
	if r.SHA256 == "" {
		return
	}
	switch r.Verified {
	case "":
		if r.Built {
			fmt.Fprintf(w, "  sha256  %s (built here)\n", r.SHA256)
			break
		}
		if r.Cached {
			fmt.Fprintf(w, "  sha256  %s (the cached file)\n", r.SHA256)
			break
		}
		fmt.Fprintf(w, "  sha256  %s (not verified: no --sha256 given and the repository serves no .sha256)\n", r.SHA256)
	default:
		fmt.Fprintf(w, "  sha256  %s (verified: %s)\n", r.SHA256, r.Verified)
	}
}

// printDriverCommands prints the commands the install ran or would run.
func printDriverCommands(w io.Writer, r *driver.Result) {
	for _, c := range r.Commands {
		switch {
		case r.Status == driver.StatusWouldInstall && c.When != "":
			fmt.Fprintf(w, "  would run  %s   (%s)\n", c, c.When)
		case r.Status == driver.StatusWouldInstall:
			fmt.Fprintf(w, "  would run  %s\n", c)
		case c.Ran && c.Error != "":
			fmt.Fprintf(w, "  ran     %s (failed, ignored: %s)\n", c, c.Error)
		case c.Ran:
			fmt.Fprintf(w, "  ran     %s\n", c)
		}
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
