package install

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Schedule says when the next check is due.
type Schedule interface {
	// Next returns the first time after t a check is due.
	Next(t time.Time) time.Time
}

// Every is a Schedule with a fixed interval.
type Every time.Duration

// Next returns t plus the interval.
func (e Every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

// Follower keeps artifacts at the highest version their references allow:
// on a schedule it runs its Installer over Request.Refs, which installs a newer
// version when one satisfies the constraint and the engine's requirements
// (a version whose requirement fails is skipped for the highest one that
// passes) and does nothing when nothing changed. The install state is the
// Follower's state, so it survives restarts.
//
// A check that finds nothing new costs, per reference, one request: the
// tag listing (or, for an exact version, its manifest). The installed
// version's manifest is not asked for again: a version tag (X.Y.Z) names
// one release. A reference that names a tag literally (a floating "latest"
// or "3") asks for the tag's manifest at every check, since that tag moves.
// No blob is downloaded.
type Follower struct {
	Installer *Installer
	// Request is what every check installs (Refs required); BeforeCheck
	// may adjust each check's copy.
	Request Request
	// Schedule says when checks are due (required).
	Schedule Schedule
	// Jitter bounds a random delay before the first check, so that a fleet
	// started at once does not check at once.
	Jitter time.Duration
	// Grace is how long a check in progress may run on once ctx is done
	// before it is cancelled (default 30s). A cancelled install leaves the
	// previous version in place either way; grace lets it finish.
	Grace time.Duration
	// BeforeCheck runs before each check with that check's copy of
	// Request (e.g. to set the engine's versions, read again); an error
	// fails that check.
	BeforeCheck func(ctx context.Context, req *Request) error
	// OnCheck receives the outcome of every check.
	OnCheck func(ctx context.Context, c FollowCheck)
}

// FollowCheck is the outcome of one check.
type FollowCheck struct {
	Started time.Time
	// Results lists every artifact checked; Updated those installed now.
	Results []Result
	Updated []Result
	Err     error
	// Next is when the next check is due (zero when stopping).
	Next time.Time
}

// Run checks until ctx is done, then returns nil. It never returns in the
// middle of a check: a stop request lets the check finish within Grace.
func (f *Follower) Run(ctx context.Context) error {
	if f.Installer == nil || f.Schedule == nil || len(f.Request.Refs) == 0 {
		return errors.New("follower: installer, schedule and references are required")
	}
	if f.Jitter > 0 {
		if !sleep(ctx, rand.N(f.Jitter)) {
			return nil
		}
	}
	for {
		c := f.Check(ctx)
		if ctx.Err() == nil {
			c.Next = f.Schedule.Next(time.Now())
		}
		if f.OnCheck != nil {
			f.OnCheck(context.WithoutCancel(ctx), c)
		}
		if ctx.Err() != nil || !sleep(ctx, time.Until(c.Next)) {
			return nil
		}
	}
}

// Check runs one check now. ctx being done gives the check Grace to finish
// before it is cancelled.
func (f *Follower) Check(ctx context.Context) FollowCheck {
	c := FollowCheck{Started: time.Now()}
	grace := f.Grace
	if grace <= 0 {
		grace = 30 * time.Second
	}
	cctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, func() { cancel(fmt.Errorf("stopping: the check did not finish within %s", grace)) })
		context.AfterFunc(cctx, func() { t.Stop() })
	})
	defer stop()
	req := f.Request
	if f.BeforeCheck != nil {
		if err := f.BeforeCheck(cctx, &req); err != nil {
			c.Err = err
			return c
		}
	}
	c.Results, c.Err = f.Installer.Install(cctx, req)
	for _, r := range c.Results {
		if r.Status == StatusInstalled {
			c.Updated = append(c.Updated, r)
		}
	}
	return c
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
