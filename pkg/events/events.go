package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sentinel errors, for errors.Is.
var (
	// ErrInvalidArtifact: an Artifact cannot name an event subject (no
	// registry, repository or valid digest).
	ErrInvalidArtifact = errors.New("invalid artifact")
	// ErrInvalidConfig: New was given a configuration it cannot use.
	ErrInvalidConfig = errors.New("invalid events configuration")
)

// Spec versions Config.Spec accepts.
const (
	Spec05 = "0.5" // CDEvents 0.5.1: artifact.downloaded.0.2.0, artifact.published.0.3.0
	Spec04 = "0.4" // CDEvents 0.4.1: artifact.downloaded.0.1.0, artifact.published.0.2.0
)

// DefaultTimeout bounds one delivery to one sink, retries included.
const DefaultTimeout = 3 * time.Second

// Sink is a CloudEvents HTTP receiver.
type Sink struct {
	URL string `json:"url"`
	// Headers are sent with every request; values may reference
	// environment variables as ${NAME}.
	Headers map[string]string `json:"headers,omitempty"`
	// Binary selects the binary content mode (default structured).
	Binary bool `json:"binary,omitempty"`
}

// Config configures an Emitter. With no Sinks and no File the Emitter does
// nothing and costs nothing.
type Config struct {
	// Source is the CDEvent context.source (a URI reference) naming this
	// ferry instance; default "/ferry/<hostname>".
	Source string
	// User is subject.content.user when an Artifact carries no registry
	// account (anonymous pulls); default the local user's name.
	User  string
	Sinks []Sink
	// File, when set, gets every event as one JSON line.
	File string
	// SpoolDir keeps events a sink did not acknowledge; ferry's CLI uses
	// <state-dir>/events/spool. Without it such events are lost (with a
	// warning).
	SpoolDir string
	// Timeout bounds one delivery to one sink, retries included
	// (default DefaultTimeout).
	Timeout time.Duration
	// Spec is Spec05 (default) or Spec04; "0.5.1" and "0.4.1" are accepted.
	Spec string
	// HTTPClient sends the events (default: a client with the proxy from
	// the environment). Its own timeouts and retries add to Timeout's, so
	// give it none.
	HTTPClient *http.Client
	// Getenv expands ${NAME} in header values (default os.Getenv).
	Getenv func(string) string
	// Now stamps the events (default time.Now).
	Now func() time.Time
}

// Artifact is what happened, in ferry's terms.
type Artifact struct {
	Name       string // the artifact's name (the index entry's, or the config's)
	Index      string // the index it was found in, if any
	Version    string
	Constraint string // the constraint asked for, e.g. "1.x"
	Ref        string // the reference as given, e.g. "rules:1.x"
	Registry   string // e.g. "ghcr.io"
	Repository string // e.g. "falcosecurity/rules/falco-rules"
	Tag        string // the tag resolved, e.g. "3.0.1"
	// Digest is what Tag resolves to (for a plugin, its image index),
	// "sha256:<64 hex>"; it is the purl's version.
	Digest   string
	Platform string // "os/arch" of a platform-specific artifact
	ServedBy string // the registry or mirror URL that served the bytes
	Path     string // where it was installed (or, for a push, the file pushed)
	Bytes    int64
	Duration time.Duration
	// User is the registry account used; empty for anonymous access.
	User string
	// URL is set, with no Registry, for a file downloaded over plain HTTP
	// (a kernel driver): the subject is then a generic package URL.
	URL string
}

// Emitter builds and delivers events. It is safe for concurrent use; a nil
// *Emitter is a disabled one.
type Emitter struct {
	spec     string
	source   string
	user     string
	file     string
	spoolDir string
	timeout  time.Duration
	getenv   func(string) string
	now      func() time.Time
	hc       *http.Client

	sinks []*sink // configured, in order

	mu     sync.Mutex
	byURL  map[string]*sink // configured and spool-only sinks
	sender *sender          // built on first use
}

// sink is the delivery state of one receiver within one Emitter.
type sink struct {
	Sink
	key        string
	configured bool

	mu      sync.Mutex // serializes deliveries to this sink
	down    bool       // failed once: spool everything else
	drained bool       // the spool backlog was sent (or tried) once
}

// New validates cfg and returns an Emitter. No event machinery is set up
// until the first event.
func New(cfg Config) (*Emitter, error) {
	e := &Emitter{
		file:     cfg.File,
		spoolDir: cfg.SpoolDir,
		timeout:  cfg.Timeout,
		getenv:   cfg.Getenv,
		now:      cfg.Now,
		hc:       cfg.HTTPClient,
		byURL:    map[string]*sink{},
	}
	switch cfg.Spec {
	case "", Spec05, "0.5.1":
		e.spec = Spec05
	case Spec04, "0.4.1":
		e.spec = Spec04
	default:
		return nil, fmt.Errorf("%w: spec %q: want %s or %s", ErrInvalidConfig, cfg.Spec, Spec05, Spec04)
	}
	if e.timeout <= 0 {
		e.timeout = DefaultTimeout
	}
	if e.getenv == nil {
		e.getenv = os.Getenv
	}
	if e.now == nil {
		e.now = time.Now
	}
	for _, s := range cfg.Sinks {
		if err := checkSinkURL(s.URL); err != nil {
			return nil, err
		}
		if _, dup := e.byURL[s.URL]; dup {
			continue
		}
		if _, err := expandHeaders(s.Headers, e.getenv); err != nil {
			return nil, fmt.Errorf("%w: sink %s: %w", ErrInvalidConfig, s.URL, err)
		}
		sk := &sink{Sink: s, key: sinkKey(s.URL), configured: true}
		e.sinks = append(e.sinks, sk)
		e.byURL[s.URL] = sk
	}
	if !e.Enabled() {
		return e, nil
	}
	e.source = cfg.Source
	if e.source == "" {
		e.source = DefaultSource()
	}
	if _, err := url.Parse(e.source); err != nil {
		return nil, fmt.Errorf("%w: source %q is not a URI reference", ErrInvalidConfig, e.source)
	}
	e.user = cfg.User
	if e.user == "" {
		e.user = DefaultUser()
	}
	return e, nil
}

// Enabled reports whether events are built at all (a sink or a file is
// configured).
func (e *Emitter) Enabled() bool {
	return e != nil && (len(e.sinks) > 0 || e.file != "")
}

// SpoolDir is the spool directory in use ("" for none).
func (e *Emitter) SpoolDir() string {
	if e == nil {
		return ""
	}
	return e.spoolDir
}

// DefaultSource is "/ferry/<hostname>".
func DefaultSource() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	return "/ferry/" + url.PathEscape(h)
}

// DefaultUser is the local user's name ("unknown" if it cannot be told).
func DefaultUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

// Downloaded reports that a was downloaded and installed. Call it once per
// artifact actually downloaded, after the install succeeded. The warnings
// are for the user (an unreachable sink, an unwritable spool or file); err
// is non-nil only when no valid event can be built from a.
func (e *Emitter) Downloaded(ctx context.Context, a Artifact) (warnings []string, err error) {
	if !e.Enabled() {
		return nil, nil
	}
	return e.emit(ctx, kindDownloaded, a)
}

// Published reports that a was pushed (Path: the file pushed; Digest and
// Tag: what the push wrote).
func (e *Emitter) Published(ctx context.Context, a Artifact) ([]string, error) {
	if !e.Enabled() {
		return nil, nil
	}
	return e.emit(ctx, kindPublished, a)
}

func (e *Emitter) emit(ctx context.Context, kind string, a Artifact) ([]string, error) {
	ev, raw, err := e.build(kind, a)
	if err != nil {
		return nil, err
	}
	var warnings []string
	if e.file != "" {
		if err := appendLine(e.file, raw); err != nil {
			warnings = append(warnings, fmt.Sprintf("events: writing %s: %v", e.file, err))
		}
	}
	ws := make([]string, len(e.sinks))
	var wg sync.WaitGroup
	for i, s := range e.sinks {
		wg.Go(func() { ws[i] = e.deliverNew(ctx, s, ev, raw) })
	}
	wg.Wait()
	for _, w := range ws {
		if w != "" {
			warnings = append(warnings, w)
		}
	}
	return warnings, nil
}

// Flush sends what the spool holds, oldest first per sink, each entry to
// the sink recorded in it (with the configured sink's headers and mode when
// its URL is configured, else the entry's own). With sinkURLs, only entries
// for those sinks are sent. A sink that fails is left alone for the rest of
// the run, with one warning; err is for a spool that cannot be read.
func (e *Emitter) Flush(ctx context.Context, sinkURLs ...string) (delivered int, warnings []string, err error) {
	if e == nil || e.spoolDir == "" {
		return 0, nil, fmt.Errorf("%w: no spool directory", ErrInvalidConfig)
	}
	entries, err := List(e.spoolDir)
	if err != nil {
		return 0, nil, err
	}
	removeStaleTemps(e.spoolDir)
	var order []*sink
	seen := map[string]bool{}
	for _, en := range entries {
		if en.Sink == "" || seen[en.Sink] || (len(sinkURLs) > 0 && !slices.Contains(sinkURLs, en.Sink)) {
			if en.Sink == "" {
				warnings = append(warnings, fmt.Sprintf("events: skipping unreadable spool file %s: %s", en.Path, en.LastError))
			}
			continue
		}
		seen[en.Sink] = true
		order = append(order, e.sinkFor(en))
	}
	counts := make([]int, len(order))
	ws := make([]string, len(order))
	var wg sync.WaitGroup
	for i, s := range order {
		wg.Go(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.down {
				return
			}
			counts[i], ws[i], _ = e.drain(ctx, s, false)
			s.drained = true
		})
	}
	wg.Wait()
	for i := range order {
		delivered += counts[i]
		if ws[i] != "" {
			warnings = append(warnings, ws[i])
		}
	}
	return delivered, warnings, nil
}

// sinkFor returns the sink state for a spooled entry's URL: the configured
// sink, or a spool-only one set up from the entry.
func (e *Emitter) sinkFor(en Spooled) *sink {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.byURL[en.Sink]; ok {
		return s
	}
	s := &sink{Sink: Sink{URL: en.Sink, Headers: en.Headers, Binary: en.Binary}, key: sinkKey(en.Sink)}
	e.byURL[en.Sink] = s
	return s
}

func sinkKey(u string) string {
	sum := sha256.Sum256([]byte(u))
	return hex.EncodeToString(sum[:6])
}

func checkSinkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: sink %q: want an http:// or https:// URL", ErrInvalidConfig, s)
	}
	return nil
}

// expandHeaders replaces ${NAME} in each value with getenv(NAME); an empty
// variable is an error.
func expandHeaders(h map[string]string, getenv func(string) string) (http.Header, error) {
	if len(h) == 0 {
		return nil, nil
	}
	out := http.Header{}
	for k, v := range h {
		var b strings.Builder
		rest := v
		for {
			i := strings.Index(rest, "${")
			if i < 0 {
				b.WriteString(rest)
				break
			}
			j := strings.IndexByte(rest[i:], '}')
			if j < 0 {
				b.WriteString(rest)
				break
			}
			name := rest[i+2 : i+j]
			val := getenv(name)
			if val == "" {
				return nil, fmt.Errorf("header %s: environment variable %s is not set", k, name)
			}
			b.WriteString(rest[:i])
			b.WriteString(val)
			rest = rest[i+j+1:]
		}
		out.Set(k, b.String())
	}
	return out, nil
}
