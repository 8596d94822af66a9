package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/events"
	"github.com/ferryhq/ferry/pkg/install"
)

// FollowOptions are the dependencies and flag values of artifact follow.
type FollowOptions struct {
	commandDeps
	dirOptions
	resolveOptions
	eventsOptions
	Every    time.Duration
	Cron     string
	Jitter   time.Duration
	Grace    time.Duration
	OnUpdate string
	// falcoctl's start-up: StartupBehavior, Timeout (for the engine's
	// versions endpoint), TmpDir.
	StartupBehavior string
	Timeout         time.Duration
	TmpDir          string
	fetchOptions
	Refs []string
}

// NewCmdFollow builds artifact follow. runF, when not nil, receives the
// parsed and validated options instead of followRun (tests use it).
func NewCmdFollow(f *cmdutil.Factory, runF func(*FollowOptions) error) *cobra.Command {
	opts := &FollowOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "follow REF...",
		Short: "Keep artifacts at the newest version their constraint allows, checking on a schedule",
		Long: `Check REF... every --every (or on the --cron schedule), after a random start-up
delay of up to --jitter, and install a newer version when one satisfies the
constraint and the engine's requirements, with dependencies, verification and
events, exactly as "ferry artifact install" does. A version whose requirement
the engine does not meet is skipped. The install state is follow's state: a
restart picks up where it stopped. A check that finds nothing new lists tags
and reads one manifest per artifact, and downloads nothing.

After a check that installed something, --on-update runs CMD with sh -c (the
updated artifacts in FERRY_UPDATED as NAME@VERSION, space-separated), e.g. to
make Falco reload its rules.

follow runs until SIGINT or SIGTERM; a check in progress is allowed to finish
(up to --grace), so no artifact is left half-installed. It suits a
container's main process. A check that fails (registry down) is logged and
retried at the next tick.`,
		Example: `  ferry artifact follow falco-rules:3 --every 6h --on-update 'kill -1 $(pidof falco)'
  ferry artifact follow k8saudit-rules:0.x --cron '0 */4 * * *' --engine-versions-url http://localhost:8765/versions`,
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := refsOrConfig(f, args, "artifact.follow.refs")
			if err != nil {
				return err
			}
			if len(refs) == 0 {
				return cmdutil.Usage(errors.New("requires at least 1 arg(s), only received 0 (or artifact.follow.refs in the config)"))
			}
			// Both on the command line is ambiguous (falcoctl refuses it
			// too); one of them from the config or the environment yields
			// to the other.
			if cmd.Flags().Changed("cron") && cmd.Flags().Changed("every") {
				return cmdutil.Usage(errors.New("--cron and --every cannot be given together: pick one schedule"))
			}
			opts.Refs = refs
			opts.IO = f.IO
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return followRun(cmd.Context(), opts)
		},
	}
	opts.dirOptions.AddFlags(cmd)
	opts.resolveOptions.AddFlags(cmd)
	opts.eventsOptions.AddFlags(cmd)
	fl := cmd.Flags()
	cmdutil.DeclareP(fl, "every", "e", &opts.Every)
	cmdutil.Declare(fl, "cron", &opts.Cron)
	cmdutil.Declare(fl, "jitter", &opts.Jitter)
	fl.DurationVar(&opts.Grace, "grace", 30*time.Second, "on SIGINT/SIGTERM, time a check in progress has to finish")
	fl.StringVar(&opts.OnUpdate, "on-update", "", "command run with sh -c after a check installed something")
	cmdutil.Declare(fl, "startup-behavior", &opts.StartupBehavior)
	cmdutil.Declare(fl, "timeout", &opts.Timeout)
	cmdutil.Declare(fl, "tmp-dir", &opts.TmpDir)
	opts.fetchOptions.AddFlags(cmd)
	cmdutil.DeclareAliases(fl)
	return cmd
}

// firstCheck applies --startup-behavior: the delay before the first check,
// or skip to wait for the first scheduled time. Without it, --jitter
// applies as before.
func (o *FollowOptions) firstCheck(schedule install.Schedule, jitter time.Duration) (time.Duration, bool, error) {
	switch o.StartupBehavior {
	case "":
		return jitter, false, nil
	case "immediate":
		return 0, false, nil
	case "jitter":
		if o.Cron != "" {
			now := time.Now()
			return schedule.Next(now).Sub(now), false, nil
		}
		return o.Every, false, nil
	case "skip":
		return 0, true, nil
	}
	return 0, false, cmdutil.Usage(fmt.Errorf("--startup-behavior must be skip, jitter or immediate, not %q", o.StartupBehavior))
}

// waitForEngine reads the engine's versions at start-up, retrying with a
// growing delay for up to --timeout, as falcoctl waits for Falco's
// endpoint; a failure then stops follow.
func (o *FollowOptions) waitForEngine(ctx context.Context) error {
	if o.Timeout <= 0 || o.EngineVersionsURL == "" {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	delay := time.Second
	for {
		_, err := o.Engine(wctx, o.commandDeps)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		o.Logger().Info("engine versions not available yet, retrying", "url", o.EngineVersionsURL, "in", delay, "error", err.Error())
		select {
		case <-wctx.Done():
			return fmt.Errorf("unable to retrieve the engine's versions from %s within --timeout %s (is Falco running with its webserver?): %w", o.EngineVersionsURL, o.Timeout, err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}

// schedule is when checks run (--every or --cron), the delay before the
// first one, and whether the first is skipped (--startup-behavior skip).
func (o *FollowOptions) schedule() (install.Schedule, time.Duration, bool, error) {
	var schedule install.Schedule = install.Every(o.Every)
	if o.Cron != "" {
		c, err := install.ParseCron(o.Cron)
		if err != nil {
			return nil, 0, false, cmdutil.Usage(err)
		}
		schedule = c
	} else if o.Every <= 0 {
		return nil, 0, false, cmdutil.Usage(errors.New("--every must be positive"))
	}
	if o.Jitter < 0 {
		return nil, 0, false, cmdutil.Usage(errors.New("--jitter must not be negative"))
	}
	jitter := o.Jitter
	if o.Cron == "" && jitter > o.Every {
		jitter = o.Every
	}
	jitter, skipFirst, err := o.firstCheck(schedule, jitter)
	if err != nil {
		return nil, 0, false, err
	}
	return schedule, jitter, skipFirst, nil
}

// Validate checks the flag values before anything is read or resolved.
func (o *FollowOptions) Validate() error {
	if err := o.dirOptions.Validate(); err != nil {
		return err
	}
	if err := o.platformOptions.Validate(); err != nil {
		return err
	}
	if err := o.fetchOptions.Validate(); err != nil {
		return err
	}
	if _, _, _, err := o.schedule(); err != nil {
		return err
	}
	if o.TmpDir != "" {
		if st, err := os.Stat(o.TmpDir); err != nil || !st.IsDir() {
			return cmdutil.Usage(fmt.Errorf("--tmp-dir %s: not a directory", o.TmpDir))
		}
	}
	return nil
}

// followRun checks opts.Refs on the schedule until ctx is done, installing
// what is newer, and prints one result per check.
func followRun(ctx context.Context, opts *FollowOptions) error {
	schedule, jitter, skipFirst, err := opts.schedule()
	if err != nil {
		return err
	}
	if err := opts.waitForEngine(ctx); err != nil {
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
	prog := newProgress(ctx, opts.commandDeps)
	if prog != nil {
		in.Progress = prog
	}
	// Only the follower watches for a stop request: what it lets finish
	// (events, the engine's versions) runs on a context that outlives it.
	bg := context.WithoutCancel(ctx)
	// The engine's versions are read before every check: Falco may have
	// been upgraded since the last one.
	log := opts.Logger()
	fw := &install.Follower{
		Installer: in, Schedule: schedule, Jitter: jitter, Grace: opts.Grace,
		Request: install.Request{Refs: opts.Refs, LockPath: filepath.Join(opts.StateDir, "ferry.lock")},
		BeforeCheck: func(_ context.Context, req *install.Request) error {
			engine, err := opts.Engine(bg, opts.commandDeps)
			if err != nil {
				return err
			}
			req.Engine = engine
			return nil
		},
		OnCheck: func(ctx context.Context, c install.FollowCheck) {
			prog.Wait()
			printCheck(bg, opts, em, c)
			if len(c.Updated) > 0 && opts.OnUpdate != "" {
				runOnUpdate(ctx, opts.IO.ErrOut, opts.OnUpdate, c.Updated)
			}
			log.Info("check done", "checked", len(c.Results), "updated", len(c.Updated), "next", c.Next.Format(time.RFC3339))
		},
	}
	log.Info("following", "refs", strings.Join(opts.Refs, " "), "schedule", scheduleString(opts), "jitter", jitter)
	if skipFirst {
		// --startup-behavior skip: the first check is the first scheduled one.
		if !sleepCtx(ctx, time.Until(schedule.Next(time.Now()))) {
			return nil
		}
	}
	return fw.Run(ctx)
}

// printCheck reports one check: a warning when it failed, its events, and
// what it installed (one JSON line with -o json).
func printCheck(ctx context.Context, opts *FollowOptions, em *events.Emitter, c install.FollowCheck) {
	view := followCheckView{Time: c.Started, Updated: installResultViews(c.Updated), Checked: len(c.Results)}
	if !c.Next.IsZero() {
		view.Next = &c.Next
	}
	if c.Err != nil {
		view.Error = c.Err.Error()
		fmt.Fprint(opts.IO.ErrOut, "warning: check failed: "+strings.TrimPrefix(cmdutil.FormatError(c.Err), "error: "))
	}
	if err := emitDownloaded(ctx, opts.commandDeps, em, c.Updated); len(c.Updated) > 0 && err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %v\n", err)
	}
	if opts.Global.JSON() {
		_ = json.NewEncoder(opts.IO.Out).Encode(view) // one line per check
	} else {
		for _, r := range c.Updated {
			printResult(opts.commandDeps, r)
		}
	}
	printUnverified(opts.IO.ErrOut, c.Updated)
}

// sleepCtx waits d or until ctx is done; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func scheduleString(o *FollowOptions) string {
	if o.Cron != "" {
		return "cron " + o.Cron
	}
	return "every " + o.Every.String()
}

// runOnUpdate runs the --on-update command; its output goes to stderr
// (stdout carries results only).
func runOnUpdate(ctx context.Context, errOut io.Writer, command string, updated []install.Result) {
	var names []string
	for _, r := range updated {
		names = append(names, r.Name+"@"+r.Version)
	}
	c := exec.CommandContext(ctx, "sh", "-c", command)
	c.Env = append(os.Environ(), "FERRY_UPDATED="+strings.Join(names, " "))
	c.Stdout, c.Stderr = errOut, errOut
	if err := c.Run(); err != nil {
		fmt.Fprintf(errOut, "warning: --on-update %q: %v\n", command, err)
	}
}
