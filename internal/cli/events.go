package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/events"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

const eventsHelp = `ferry reports what it does as CDEvents (spec 0.5.1) over the CloudEvents HTTP
binding: artifact.downloaded for each artifact "artifact install" downloads (a
reinstall that downloads nothing reports nothing), artifact.published for each
"artifact push". The subject id is the artifact's package URL, e.g.
pkg:oci/falco-rules@sha256:...?repository_url=ghcr.io%2Ffalcosecurity%2Frules%2Ffalco-rules&tag=3.0.1

Events go to every sink (--events-sink, repeatable; FERRY_EVENTS_SINK, comma-
separated; or the config file) and, with --events-file, to a JSON-lines file.
A sink that does not acknowledge an event within --events-timeout (retries
included) never fails the command: it gets one warning, and the event waits in
<state-dir>/events/spool/ until the next run or "ferry events flush" sends it.

Config file:
  events:
    sinks:
      - url: https://events.example.com/ingest
        headers: {Authorization: "Bearer ${EVENTS_TOKEN}"}   # ${NAME}: from the environment
        binary: false                                         # CloudEvents binary mode
    source: /ferry/edge-42     # context.source (default /ferry/<hostname>)
    user: ci-bot               # subject.content.user for anonymous pulls (default: local user)
    file: /var/log/ferry/events.jsonl
    spec: "0.5"                # or "0.4" for consumers of CDEvents 0.4.1
    timeout: 3s`

// eventsOptions is the flag group of the commands that emit events
// (artifact install, artifact push) and of "ferry events flush".
type eventsOptions struct {
	Sinks   []string
	File    string
	Spec    string
	Binary  bool
	Source  string
	User    string
	Timeout time.Duration
}

// AddFlags binds the --events-* flags.
func (o *eventsOptions) AddFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&o.Sinks, "events-sink", nil, "send CDEvents to this CloudEvents HTTP receiver (repeatable)")
	fl.StringVar(&o.File, "events-file", "", "append every event to this file as one JSON line")
	fl.StringVar(&o.Spec, "events-spec", events.Spec05, "CDEvents spec version, 0.5 or 0.4")
	fl.BoolVar(&o.Binary, "events-binary", false, "send events in the CloudEvents binary content mode (default structured)")
	fl.StringVar(&o.Source, "events-source", "", "the events' source (default /ferry/<hostname>)")
	fl.StringVar(&o.User, "events-user", "", "the user events name for anonymous pulls (default: the local user)")
	fl.DurationVar(&o.Timeout, "events-timeout", events.DefaultTimeout, "time to deliver one event to one sink, retries included")
}

// eventsSpoolDir is where undelivered events wait.
func eventsSpoolDir(stateDir string) string {
	return filepath.Join(stateDir, "events", "spool")
}

// Config is the flags (which ApplyPrecedence filled from FERRY_EVENTS_*,
// the config's defaults and its events section) and the config's sinks.
func (o *eventsOptions) Config(d commandDeps, stateDir string) (events.Config, error) {
	fc, err := d.ConfigFile()
	if err != nil {
		return events.Config{}, err
	}
	ec := fc.Events
	cfg := events.Config{
		Source:   o.Source,
		User:     o.User,
		File:     o.File,
		Spec:     o.Spec,
		Timeout:  o.Timeout,
		SpoolDir: eventsSpoolDir(stateDir),
		Getenv:   d.Getenv,
	}
	if cfg.Timeout < 0 {
		return events.Config{}, cmdutil.Usage(fmt.Errorf("--events-timeout must be positive, not %s", cfg.Timeout))
	}
	configured := map[string]cmdutil.EventSinkConfig{}
	for _, s := range ec.Sinks {
		configured[s.URL] = s
	}
	urls := o.Sinks
	if len(urls) == 0 {
		for _, s := range ec.Sinks {
			urls = append(urls, s.URL)
		}
	}
	for _, u := range urls {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		s := configured[u]
		cfg.Sinks = append(cfg.Sinks, events.Sink{URL: u, Headers: s.Headers, Binary: s.Binary || o.Binary})
	}
	return cfg, nil
}

// Build returns the Emitter the flags and config describe, spooling under
// stateDir. With no sink and no file it is a disabled Emitter that costs
// nothing.
func (o *eventsOptions) Build(d commandDeps, stateDir string) (*events.Emitter, error) {
	cfg, err := o.Config(d, stateDir)
	if err != nil {
		return nil, err
	}
	if len(cfg.Sinks) > 0 {
		// Registry TLS trust (--ca-file) applies to sinks too; retries and
		// timeouts are the emitter's.
		if err := cmdutil.InputFile("ca-file", d.Global.CAFile); err != nil {
			return nil, err
		}
		cfg.HTTPClient, err = ferryhttp.New(ferryhttp.Options{
			UserAgent: "ferry/" + d.FerryVersion,
			CAFile:    d.Global.CAFile,
			NoRetry:   true,
		})
		if err != nil {
			return nil, err
		}
	}
	e, err := events.New(cfg)
	if err != nil {
		return nil, cmdutil.Usage(err)
	}
	return e, nil
}

// eventArtifact describes an installed result for an artifact.downloaded
// event. user is the registry account used ("" when anonymous).
func eventArtifact(r install.Result, user string) events.Artifact {
	a := events.Artifact{
		Name: r.Name, Index: r.Index, Version: r.Version, Ref: r.Ref,
		Registry: r.Registry, Repository: r.Repository, Tag: r.Tag, Digest: r.Digest, Platform: r.Platform,
		ServedBy: r.Source, Path: r.Dir, Bytes: r.Bytes, Duration: r.Duration, User: user,
	}
	if ref, err := index.ParseReference(r.Ref); err == nil {
		a.Constraint = ref.Constraint
	}
	if len(r.Files) == 1 {
		a.Path = filepath.Join(r.Dir, r.Files[0])
	}
	return a
}

// pushedArtifact describes a push for an artifact.published event.
func pushedArtifact(loc oci.Location, name, version string, res *oci.PushResult, files []string, took time.Duration, user string) events.Artifact {
	a := events.Artifact{
		Name: name, Version: version, Registry: loc.Registry, Repository: loc.Repository, Tag: version,
		Digest: res.Digest.String(), ServedBy: loc.Registry, Path: strings.Join(files, ","), Duration: took, User: user,
	}
	for _, p := range files {
		if fi, err := os.Stat(p); err == nil {
			a.Bytes += fi.Size()
		}
	}
	return a
}

// registryUser is the account ferry uses for host ("" for anonymous
// access). It asks the credential store only when em is enabled.
func registryUser(ctx context.Context, d commandDeps, em *events.Emitter, host string) string {
	if !em.Enabled() || host == "" {
		return ""
	}
	store, err := d.Credentials()
	if err != nil {
		return ""
	}
	cred, err := store.Get(ctx, host)
	if err != nil || cred.Username == "<token>" {
		return ""
	}
	return cred.Username
}

// printEventWarnings writes what an Emitter reported to stderr.
func printEventWarnings(errOut io.Writer, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(errOut, "warning: %s\n", w)
	}
}

func newCmdEvents(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Inspect and resend the CDEvents ferry could not deliver",
		Long:  eventsHelp,
	}
	cmd.AddCommand(NewCmdEventsList(f, nil), NewCmdEventsFlush(f, nil))
	return cmd
}

// spooledView is one spooled event in "events list -o json".
type spooledView struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Source    string    `json:"source"`
	Subject   string    `json:"subject"`
	Time      time.Time `json:"time"`
	Sink      string    `json:"sink"`
	Binary    bool      `json:"binary"`
	SpooledAt time.Time `json:"spooledAt"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"lastError,omitempty"`
	Path      string    `json:"path"`
}

// EventsListOptions are the dependencies and flag values of events list.
type EventsListOptions struct {
	commandDeps
	stateDirOption
}

// NewCmdEventsList builds events list. runF, when not nil, receives the
// parsed and validated options instead of eventsListRun (tests use it).
func NewCmdEventsList(f *cmdutil.Factory, runF func(*EventsListOptions) error) *cobra.Command {
	opts := &EventsListOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the events waiting in the spool, oldest first",
		Long: `List the events waiting in <state-dir>/events/spool/ for a sink that did not
acknowledge them, oldest first: one line per event and sink.`,
		Example: `  ferry events list
  ferry events list --state-dir ./state -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.IO = f.IO
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return eventsListRun(cmd.Context(), opts)
		},
	}
	opts.stateDirOption.AddFlags(cmd)
	return cmd
}

func eventsListRun(_ context.Context, opts *EventsListOptions) error {
	dir := eventsSpoolDir(opts.StateDir)
	list, err := events.List(dir)
	if err != nil {
		return err
	}
	views := make([]spooledView, 0, len(list))
	for _, s := range list {
		views = append(views, spooledView{
			ID: s.ID, Type: s.Type, Source: s.Source, Subject: s.Subject, Time: s.Time, Sink: s.Sink, Binary: s.Binary,
			SpooledAt: s.SpooledAt, Attempts: s.Attempts, LastError: s.LastError, Path: s.Path,
		})
	}
	out := opts.IO.Out
	if opts.Global.JSON() {
		return printJSON(out, views)
	}
	if len(views) == 0 {
		_, err := fmt.Fprintf(out, "No events waiting in %s\n", dir)
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tSINK\tATTEMPTS\tSUBJECT\tLAST ERROR")
	for _, v := range views {
		typ := strings.TrimPrefix(v.Type, "dev.cdevents.")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", v.Time.UTC().Format(time.RFC3339), typ, dashIfEmpty(v.Sink), v.Attempts, dashIfEmpty(v.Subject), dashIfEmpty(v.LastError))
	}
	return tw.Flush()
}

// flushView is the result of "events flush -o json".
type flushView struct {
	Delivered int      `json:"delivered"`
	Remaining int      `json:"remaining"`
	SpoolDir  string   `json:"spoolDir"`
	Warnings  []string `json:"warnings"`
}

// EventsFlushOptions are the dependencies and flag values of events flush.
type EventsFlushOptions struct {
	commandDeps
	stateDirOption
	eventsOptions
}

// NewCmdEventsFlush builds events flush. runF, when not nil, receives the
// parsed and validated options instead of eventsFlushRun (tests use it).
func NewCmdEventsFlush(f *cmdutil.Factory, runF func(*EventsFlushOptions) error) *cobra.Command {
	opts := &EventsFlushOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "flush",
		Short: "Resend the spooled events, oldest first",
		Long: `Resend the events waiting in <state-dir>/events/spool/, oldest first, each to
the sink it was meant for; an event leaves the spool once its sink answered
2xx. Headers and the content mode come from the configured sink with the same
URL, else from the spooled entry (header templates, expanded now). With
--events-sink, only the events for those sinks are sent.

Exits 1 when events remain because a sink failed or rejected them.`,
		Example: `  ferry events flush
  ferry events flush --state-dir ./state --events-sink http://127.0.0.1:8080/events -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.IO = f.IO
			if err := opts.stateDirOption.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return eventsFlushRun(cmd.Context(), opts)
		},
	}
	opts.stateDirOption.AddFlags(cmd)
	opts.eventsOptions.AddFlags(cmd)
	for _, name := range []string{"events-file", "events-spec", "events-source", "events-user"} {
		_ = cmd.Flags().MarkHidden(name)
	}
	return cmd
}

func eventsFlushRun(ctx context.Context, opts *EventsFlushOptions) error {
	em, err := opts.eventsOptions.Build(opts.commandDeps, opts.StateDir)
	if err != nil {
		return err
	}
	var only []string
	for _, u := range opts.Sinks {
		if u = strings.TrimSpace(u); u != "" {
			only = append(only, u)
		}
	}
	delivered, warnings, err := em.Flush(ctx, only...)
	if err != nil {
		return err
	}
	left, err := events.List(em.SpoolDir())
	if err != nil {
		return err
	}
	remaining := 0
	for _, s := range left {
		if len(only) == 0 || slices.Contains(only, s.Sink) {
			remaining++
		}
	}
	printEventWarnings(opts.IO.ErrOut, warnings)
	if opts.Global.JSON() {
		if warnings == nil {
			warnings = []string{}
		}
		if err := printJSON(opts.IO.Out, flushView{Delivered: delivered, Remaining: remaining, SpoolDir: em.SpoolDir(), Warnings: warnings}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(opts.IO.Out, "Delivered %d event(s); %d waiting in %s\n", delivered, remaining, em.SpoolDir())
	}
	if remaining > 0 && len(warnings) > 0 {
		return fmt.Errorf("%d event(s) could not be delivered; they stay in %s", remaining, em.SpoolDir())
	}
	return nil
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
