package driver

import (
	"context"
	"errors"
	"fmt"
	nethttp "net/http"
	"os"
	"path/filepath"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
)

// DefaultMaxBytes bounds a driver download (a module or probe is a few MiB).
const DefaultMaxBytes = 256 << 20

// maxSidecarBytes bounds a sha256sum sidecar.
const maxSidecarBytes = 4 << 10

// Installer downloads, installs and loads drivers.
type Installer struct {
	// HTTP is the client downloads go through.
	HTTP *nethttp.Client
	// System loads and unloads modules (default OS{}).
	System System
	// Progress, if set, is told about each step.
	Progress func(Event)
	// Header is added to every download request (falcoctl's --http-headers).
	Header nethttp.Header
}

// client is HTTP with Header added to each request.
func (in *Installer) client() *nethttp.Client {
	c := in.HTTP
	if c == nil {
		c = nethttp.DefaultClient
	}
	if len(in.Header) == 0 {
		return c
	}
	cp := *c
	next := cp.Transport
	if next == nil {
		next = nethttp.DefaultTransport
	}
	cp.Transport = headerTransport{next: next, h: in.Header}
	return &cp
}

type headerTransport struct {
	next nethttp.RoundTripper
	h    nethttp.Header
}

func (t headerTransport) RoundTrip(r *nethttp.Request) (*nethttp.Response, error) {
	r = r.Clone(r.Context())
	for k, vs := range t.h {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return t.next.RoundTrip(r)
}

// Event is a step of Install or Cleanup, for progress reporting.
type Event struct {
	// Step is one of "try", "miss", "downloaded", "cached", "installed",
	// "run", "removed".
	Step string
	URL  string
	Path string
	// Err says why a repository was skipped ("miss").
	Err error
}

func (in *Installer) progress(e Event) {
	if in.Progress != nil {
		in.Progress(e)
	}
}

func (in *Installer) system() System {
	if in.System != nil {
		return in.System
	}
	return OS{}
}

// Request says which driver to install and where.
type Request struct {
	// Name is the driver's name (falco).
	Name string
	// Version is the driver version (e.g. 8.0.0+driver).
	Version string
	Type    Type
	Target  Target
	// Repos are tried in order; the first that has the file wins.
	Repos []string
	// SHA256 is the expected hex digest of the file. Without it, a sidecar
	// at URL.sha256 (sha256sum format) is used when the repository serves one.
	SHA256 string
	// CacheDir is the download cache, laid out as Falco's ~/.falco:
	// <CacheDir>/<version>/<arch>/<file>.
	CacheDir string
	// InstallDir is the .falco directory Falco reads (e.g.
	// <host root>/root/.falco); the file is copied there atomically, with the
	// same layout, and for ebpf <InstallDir>/<name>-bpf.o links to it.
	// Empty installs nothing beyond the cache.
	InstallDir string
	// StateDir holds the record of what was installed, for Cleanup.
	StateDir string
	// ProbeLinks are more paths linked to the installed eBPF probe (the
	// legacy loader's FALCO_BPF_PROBE).
	ProbeLinks []string
	// Load loads a kernel module once installed (rmmod of the loaded one,
	// then insmod). Other types have nothing to load.
	Load bool
	// DryRun reports what would be done: no request, no write, no command.
	DryRun bool
	// MaxBytes bounds the download (default DefaultMaxBytes).
	MaxBytes int64
	// NoDownload skips the repositories (falcoctl's --download=false).
	NoDownload bool
	// Compile builds the driver from its sources on this host when no
	// prebuilt one is found (or NoDownload), as Build says. It is not done
	// when SHA256 is given: a local build cannot have that digest.
	Compile bool
	Build   BuildOptions
}

// Status says what Install did.
type Status string

// The statuses of a Result.
const (
	StatusInstalled    Status = "installed"
	StatusUpToDate     Status = "up-to-date"
	StatusWouldInstall Status = "would-install"
	StatusNotNeeded    Status = "not-needed"
)

// Verified says how a driver's digest was checked.
const (
	VerifiedGiven   = "given sha256"
	VerifiedSidecar = "sha256 sidecar"
)

// Result is what Install did (or, with DryRun, would do).
type Result struct {
	Status  Status `json:"status"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Type    Type   `json:"type"`
	Target  Target `json:"target"`
	// Note explains a status with nothing to do.
	Note     string `json:"note,omitempty"`
	FileName string `json:"fileName,omitempty"`
	// URLs are the candidates, in order; URL is the one downloaded from.
	URLs []string `json:"urls,omitempty"`
	URL  string   `json:"url,omitempty"`
	// Tried lists the repositories that did not serve the file.
	Tried []Attempt `json:"tried,omitempty"`
	// Cached is true when the file came from the cache, with no download.
	Cached bool `json:"cached"`
	// Built is true when the file was built on this host, as Build says
	// (with DryRun: how it would be built if no repository has it).
	Built     bool       `json:"built"`
	Build     *BuildPlan `json:"build,omitempty"`
	CachePath string     `json:"cachePath,omitempty"`
	// Path is the installed file; Link the eBPF probe link to it.
	Path string `json:"path,omitempty"`
	Link string `json:"link,omitempty"`
	// CacheLink is <cache>/<name>-bpf.o, linked to the cached probe where
	// the legacy loader put it ($HOME/.falco/falco-bpf.o), so that a Falco
	// container given that directory finds it.
	CacheLink string `json:"cacheLink,omitempty"`
	// ProbeLinks are Request.ProbeLinks, linked to Path.
	ProbeLinks []string `json:"probeLinks,omitempty"`
	// SHA256 is the file's digest; Verified how it was checked ("" = not
	// checked: no digest was available).
	SHA256   string    `json:"sha256,omitempty"`
	Verified string    `json:"verified,omitempty"`
	Commands []Command `json:"commands,omitempty"`
	Loaded   bool      `json:"loaded"`
	// Downloaded is true when this run fetched the file from URL (even if
	// loading it failed afterwards); false when it was cached or built,
	// and in a dry run. Bytes is then the file's size.
	Downloaded bool  `json:"-"`
	Bytes      int64 `json:"-"`
}

// What names the driver for messages.
func (r *Result) What() string {
	return fmt.Sprintf("%s %s driver %s for %s %s (%s)", r.Name, r.Type, r.Version, r.Target.ID, r.Target.FixedKernelRelease, r.Target.FixedKernelVersion)
}

func (req *Request) validate() error {
	if req.Name == "" {
		return errors.New("no driver name")
	}
	if why := SafeElement(req.Name); why != "" {
		return fmt.Errorf("driver name %q is %w: %s", req.Name, ErrUnsafeName, why)
	}
	if _, err := ParseType(string(req.Type)); err != nil {
		return err
	}
	if !req.Type.NeedsFile() {
		return nil
	}
	switch {
	case req.Version == "":
		return errors.New("no driver version")
	case req.Target.ID == "" || (req.Target.ID == Undetermined && !req.Compile):
		return fmt.Errorf("%w: detected an unsupported target system (cannot determine the host's distribution), so no prebuilt driver can match it", ErrUnsupported)
	case len(req.Repos) == 0 && !req.NoDownload:
		return errors.New("no driver repository")
	case req.InstallDir != "" && req.StateDir == "":
		return errors.New("no state directory")
	}
	if err := CheckNames(req.Name, req.Version, req.Target); err != nil {
		return err
	}
	for _, l := range req.ProbeLinks {
		if !filepath.IsAbs(l) {
			return fmt.Errorf("probe link %q is not an absolute path", l)
		}
	}
	if _, err := ferryhttp.NormalizeSHA256(req.SHA256); err != nil {
		return err
	}
	return nil
}

// Install gets the driver req names into the cache (from the cache if it is
// there and matches any expected digest, else from the first repository that
// has it, else built here when req.Compile), installs it under
// req.InstallDir, records it in the state file and loads it if asked. An
// empty req.CacheDir is DefaultCacheDir. A missing file everywhere is a
// *DownloadError matching ErrNotFound, one refused (401, 403) where it was
// not missing a *DownloadError matching errdef.ErrUnauthorized; a digest
// mismatch matches ErrDigestMismatch.
func (in *Installer) Install(ctx context.Context, req Request) (*Result, error) {
	if req.CacheDir == "" && req.Type.NeedsFile() {
		dir, err := DefaultCacheDir(nil)
		if err != nil {
			return nil, err
		}
		req.CacheDir = dir
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	res := &Result{Name: req.Name, Version: req.Version, Type: req.Type, Target: req.Target}
	if !req.Type.NeedsFile() {
		res.Status = StatusNotNeeded
		res.Note = "the modern eBPF probe is built into Falco: nothing to download or install"
		return res, nil
	}
	res.layout(req)
	want, _ := ferryhttp.NormalizeSHA256(req.SHA256)
	if req.MaxBytes <= 0 {
		req.MaxBytes = DefaultMaxBytes
	}
	if req.NoDownload && !req.Compile {
		res.Status = StatusNotNeeded
		res.Note = "nothing to do: download and compile disabled"
		return res, nil
	}
	if err := in.fromCache(res, want); err != nil {
		return res, err
	}
	// An undetermined host has no prebuilt driver: only a build can help.
	src := sources{download: !req.NoDownload && req.Target.ID != Undetermined, compile: req.Compile && req.SHA256 == ""}
	if !src.download {
		res.URLs = nil
	}
	if !res.Cached && !src.download && !src.compile {
		return res, fmt.Errorf("%w for the %s: downloads are off, and a local build cannot have the expected sha256 %s", ErrNotFound, res.What(), want)
	}
	if req.DryRun {
		return res, in.plan(req, res, src)
	}
	fresh := !res.Cached
	if fresh {
		if err := in.obtain(ctx, req, want, res, src); err != nil {
			return res, err
		}
	}
	changed, err := in.place(ctx, req, res)
	if err != nil {
		return res, err
	}
	res.Status = StatusUpToDate
	if fresh || changed {
		res.Status = StatusInstalled
	}
	if req.Load {
		return res, in.load(ctx, req, res)
	}
	return res, nil
}

// sources says where a driver not in the cache may come from.
type sources struct{ download, compile bool }

// layout fills in the file's name, where it is cached and installed, its
// links and the URLs it may be downloaded from.
func (r *Result) layout(req Request) {
	arch := req.Target.Arch
	r.FileName = FileName(req.Name, req.Type, req.Target)
	r.CachePath = LocalPath(req.CacheDir, req.Version, arch, r.FileName)
	r.Path = r.CachePath
	if req.InstallDir != "" {
		r.Path = LocalPath(req.InstallDir, req.Version, arch, r.FileName)
		if req.Type == EBPF {
			r.Link = ProbeLink(req.InstallDir, req.Name)
			if l := ProbeLink(req.CacheDir, req.Name); filepath.Clean(l) != filepath.Clean(r.Link) {
				r.CacheLink = l
			}
			for _, l := range req.ProbeLinks {
				if c := filepath.Clean(l); c != filepath.Clean(r.Link) && c != filepath.Clean(r.CacheLink) {
					r.ProbeLinks = append(r.ProbeLinks, c)
				}
			}
		}
	}
	for _, repo := range req.Repos {
		r.URLs = append(r.URLs, URL(repo, req.Version, arch, r.FileName))
	}
}

// fromCache takes the cached file when there is one with the expected
// digest (want, hex; "" when none is expected).
func (in *Installer) fromCache(res *Result, want string) error {
	sum, found, err := fileSHA256(res.CachePath)
	if err != nil {
		return fmt.Errorf("reading the cache: %w", err)
	}
	if found && (want == "" || sum == want) {
		res.Cached, res.SHA256 = true, sum
		if want != "" {
			res.Verified = VerifiedGiven
		}
		in.progress(Event{Step: "cached", Path: res.CachePath})
	}
	return nil
}

// plan completes a dry run's result: how the driver would be built when no
// repository has it, and the commands that would load it.
func (in *Installer) plan(req Request, res *Result, src sources) error {
	res.Status = StatusWouldInstall
	if !res.Cached && src.compile {
		if plan, err := in.planBuild(req, res); err == nil {
			res.Build = plan
		} else if !src.download {
			return err
		}
	}
	if req.Load {
		res.Commands, res.Note = loadPlan(req, res.Path)
	}
	return nil
}

// obtain downloads the driver into the cache or, when no repository has it
// (or downloads are off), builds it there.
func (in *Installer) obtain(ctx context.Context, req Request, want string, res *Result, src sources) error {
	var dlErr error
	if src.download {
		if dlErr = in.download(ctx, req, want, res); dlErr == nil {
			return nil
		}
	}
	var de *DownloadError
	switch {
	case src.download && !errors.As(dlErr, &de):
		// A corrupt or oversized file, or an interrupted run: not a reason
		// to build.
		return dlErr
	case !src.compile:
		return dlErr
	}
	plan, err := in.planBuild(req, res)
	if err == nil {
		err = in.build(ctx, req, plan, res)
	}
	if err != nil && dlErr != nil {
		return fmt.Errorf("%w; then %w", dlErr, err)
	}
	return err
}

// load runs the commands that load a kernel module and records it loaded.
func (in *Installer) load(ctx context.Context, req Request, res *Result) error {
	var note string
	res.Commands, note = loadPlan(req, res.Path)
	if note != "" {
		res.Note = note
	}
	if err := in.run(ctx, res.Commands); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrLoad, res.Path, err)
	}
	if len(res.Commands) == 0 {
		return nil
	}
	res.Loaded = true
	return in.recordLoaded(ctx, req)
}

// download tries each repository in order.
func (in *Installer) download(ctx context.Context, req Request, want string, res *Result) error {
	for _, u := range res.URLs {
		in.progress(Event{Step: "try", URL: u})
		verified := ""
		got, err := ferryhttp.DownloadFile(ctx, in.client(), u, res.CachePath, 0o644, ferryhttp.DownloadOptions{
			Limit:  req.MaxBytes,
			SHA256: want,
			Check: func(d ferryhttp.Downloaded) error {
				if want != "" {
					verified = VerifiedGiven
					return nil
				}
				side, err := in.sidecar(ctx, u)
				if err != nil || side == "" {
					return err
				}
				if side != d.SHA256 {
					return fmt.Errorf("%s: %w: got sha256:%s, %s.sha256 says sha256:%s", u, ErrDigestMismatch, d.SHA256, u, side)
				}
				verified = VerifiedSidecar
				return nil
			},
		})
		switch {
		case err == nil:
			res.URL, res.SHA256, res.Verified = u, got.SHA256, verified
			res.Downloaded, res.Bytes = true, got.Size
			in.progress(Event{Step: "downloaded", URL: u, Path: res.CachePath})
			return nil
		case ctx.Err() != nil:
			return err
		case errors.Is(err, ErrDigestMismatch), errors.Is(err, ferryhttp.ErrTooLarge):
			// A repository serving a corrupt file is not skipped silently.
			return fmt.Errorf("downloading the %s: %w", res.What(), err)
		}
		in.progress(Event{Step: "miss", URL: u, Err: err})
		res.Tried = append(res.Tried, newAttempt(u, err))
	}
	return &DownloadError{What: res.What(), Attempts: res.Tried}
}

// sidecar fetches URL.sha256; "" when the repository serves none.
func (in *Installer) sidecar(ctx context.Context, u string) (string, error) {
	data, err := ferryhttp.ReadURL(ctx, in.client(), u+".sha256", maxSidecarBytes)
	if errors.Is(err, ferryhttp.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("fetching the checksum %s.sha256: %w", u, err)
	}
	sum, err := ferryhttp.ParseSHA256Sum(data)
	if err != nil {
		return "", fmt.Errorf("reading the checksum %s.sha256: %w", u, err)
	}
	return sum, nil
}

// place copies the cached file to the install directory (and links the eBPF
// probe), atomically, and records them. changed is false when both were
// already in place.
func (in *Installer) place(ctx context.Context, req Request, res *Result) (changed bool, err error) {
	if req.InstallDir == "" {
		return false, nil
	}
	if filepath.Clean(res.Path) != filepath.Clean(res.CachePath) {
		sum, found, err := fileSHA256(res.Path)
		if err != nil {
			return false, fmt.Errorf("reading %s: %w", res.Path, err)
		}
		if !found || sum != res.SHA256 {
			if err := copyFileAtomic(res.CachePath, res.Path, 0o644); err != nil {
				return false, fmt.Errorf("installing the driver: %w", err)
			}
			changed = true
			in.progress(Event{Step: "installed", Path: res.Path})
		}
	}
	links := [][2]string{{res.Link, res.Path}, {res.CacheLink, res.CachePath}}
	for _, l := range res.ProbeLinks {
		links = append(links, [2]string{l, res.Path})
	}
	for _, l := range links {
		if l[0] == "" {
			continue
		}
		target, err := filepath.Rel(filepath.Dir(l[0]), l[1])
		if err != nil {
			return false, err
		}
		if cur, err := os.Readlink(l[0]); err != nil || cur != target {
			if err := symlinkAtomic(target, l[0]); err != nil {
				return false, fmt.Errorf("linking the eBPF probe: %w", err)
			}
			changed = true
			in.progress(Event{Step: "installed", Path: l[0]})
		}
	}
	entry := InstalledFile{Path: res.Path, Base: req.InstallDir, Name: req.Name, Version: req.Version, Type: req.Type, URL: res.URL, SHA256: res.SHA256, Built: res.Built}
	return changed, updateState(ctx, req.StateDir, func(st *State) {
		st.record(entry)
		if res.Built && res.Build != nil && res.Build.Method == "dkms" {
			st.recordDKMS(DKMSModule{Name: req.Name, Version: req.Version, Kernel: req.Target.KernelRelease})
		}
		links := [][2]string{{res.Link, req.InstallDir}, {res.CacheLink, req.CacheDir}}
		for _, l := range res.ProbeLinks {
			links = append(links, [2]string{l, ""})
		}
		for _, l := range links {
			if l[0] != "" {
				link := entry
				link.Path, link.Base, link.Link, link.SHA256 = l[0], l[1], true, ""
				st.record(link)
			}
		}
	})
}

func (in *Installer) recordLoaded(ctx context.Context, req Request) error {
	return updateState(ctx, req.StateDir, func(st *State) { st.recordLoaded(ModuleName(req.Name)) })
}

// loadPlan lists the commands that load a kernel module, as falco-driver-loader
// ran them: unload the loaded version, label the file for SELinux, insmod.
func loadPlan(req Request, path string) ([]Command, string) {
	switch req.Type {
	case EBPF:
		return nil, "Falco loads the eBPF probe itself: nothing to load"
	case ModernEBPF:
		return nil, ""
	}
	mod := ModuleName(req.Name)
	return []Command{
		{Args: []string{"rmmod", mod}, When: "if " + mod + " is loaded"},
		{Args: []string{"chcon", "-t", "modules_object_t", path}, When: "if chcon exists (SELinux); failure ignored"},
		{Args: []string{"insmod", path}},
	}, ""
}

// run runs commands, honouring their conditions.
func (in *Installer) run(ctx context.Context, cmds []Command) error {
	sys := in.system()
	for i := range cmds {
		c := &cmds[i]
		switch c.Args[0] {
		case "rmmod":
			loaded, err := sys.ModuleLoaded(c.Args[1])
			if err != nil {
				return err
			}
			if !loaded {
				continue
			}
		case "chcon", "dkms":
			if !sys.HasCommand(c.Args[0]) {
				continue
			}
			in.progress(Event{Step: "run", Path: c.String()})
			c.Ran = true
			if err := sys.Run(ctx, c.Args); err != nil {
				c.Error = err.Error()
			}
			continue
		}
		in.progress(Event{Step: "run", Path: c.String()})
		c.Ran = true
		if err := sys.Run(ctx, c.Args); err != nil {
			c.Error = err.Error()
			return err
		}
	}
	return nil
}

// DefaultCacheDir is Falco's download cache, $HOME/.falco. getenv reads
// HOME (nil: os.Getenv); without one, the user's home directory is asked
// for. An error means there is no home directory: pass a cache directory.
func DefaultCacheDir(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no home directory for the driver cache ($HOME/.falco): %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".falco"), nil
}

// HostInstallDir is where Falco looks for the driver when it runs as root
// on the host whose root filesystem is at hostRoot: <hostRoot>/root/.falco.
func HostInstallDir(hostRoot string) string { return filepath.Join(hostRoot, "root", ".falco") }
