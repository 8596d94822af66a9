package cli

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/ferryhq/ferry/pkg/install"
)

// progressRefresh is how often bars are redrawn and their byte counts read.
const progressRefresh = 120 * time.Millisecond

// progressEnabled reports whether downloads draw bars: only when stderr is
// a terminal and nothing asks for plain output (-q, -o json, --log-level
// debug, NO_COLOR, TERM=dumb or no TERM).
func progressEnabled(d commandDeps) bool {
	g := d.Global
	if !d.IO.ErrTerminal || g.Quiet || g.JSON() || g.LogLevel == "debug" || d.Getenv("NO_COLOR") != "" {
		return false
	}
	t := d.Getenv("TERM")
	return t != "" && t != "dumb"
}

// newProgress returns the download bars of an install, or nil when they are
// not drawn. Set it as the installer's Progress only when not nil, and call
// Wait before printing anything else.
// ctx is the command's: its end (^C) moves the cursor back to the start of
// the line, where the terminal's echo of ^C moved it off, so the next frame
// erases the bars it drew before cleanly.
func newProgress(ctx context.Context, d commandDeps) *barProgress {
	if !progressEnabled(d) {
		return nil
	}
	return &barProgress{ctx: ctx, out: d.IO.ErrOut}
}

// barProgress draws one bar per artifact on stderr (name, bytes, percentage,
// speed, ETA) and replaces each, when its artifact is installed, by one line
// saying what was downloaded, how much and how fast. Results go to stdout
// as usual, after the bars are gone. The download path only adds to an
// atomic counter; bars read the counters at each refresh.
type barProgress struct {
	ctx context.Context
	out io.Writer

	mu     sync.Mutex
	p      *mpb.Progress // created by the first Start after a Wait
	active map[*barTracker]struct{}
	stop   chan struct{}
	polled chan struct{}
	unhook func() bool // of the carriage return on the end of ctx
}

// Start draws a bar for r's download.
func (bp *barProgress) Start(r install.Result) install.Tracker {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	if bp.p == nil {
		bp.p = mpb.New(mpb.WithOutput(bp.out), mpb.WithAutoRefresh(), mpb.WithRefreshRate(progressRefresh))
		bp.active = map[*barTracker]struct{}{}
		bp.stop, bp.polled = make(chan struct{}), make(chan struct{})
		go bp.poll(bp.stop, bp.polled)
		bp.unhook = context.AfterFunc(bp.ctx, func() {
			bp.mu.Lock()
			defer bp.mu.Unlock()
			if bp.p != nil {
				_, _ = io.WriteString(bp.out, "\r")
			}
		})
	}
	t := &barTracker{bp: bp, label: artifactLabel(r), started: time.Now()}
	// A bar made with no total never completes on its own: it stays at
	// 100% while the artifact is swapped in, and goes when Done says so.
	t.bar = bp.p.New(0, mpb.BarStyle(),
		mpb.PrependDecorators(decor.Name(t.label, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(
			decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WCSyncSpace),
			decor.Percentage(decor.WCSyncSpace),
			decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace),
			decor.Name(" ETA"),
			decor.AverageETA(decor.ET_STYLE_GO, decor.WCSyncSpace),
		),
	)
	t.bar.SetTotal(r.Bytes, false)
	bp.active[t] = struct{}{}
	return t
}

// poll copies every active download's byte count to its bar.
func (bp *barProgress) poll(stop <-chan struct{}, polled chan<- struct{}) {
	defer close(polled)
	tick := time.NewTicker(progressRefresh)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			bp.mu.Lock()
			for t := range bp.active {
				t.bar.SetCurrent(t.n.Load())
			}
			bp.mu.Unlock()
		}
	}
}

// Wait removes any bar left, draws the last lines and returns when the
// terminal is the caller's again. It is a no-op on a nil barProgress.
func (bp *barProgress) Wait() {
	if bp == nil {
		return
	}
	bp.mu.Lock()
	p, polled := bp.p, bp.polled
	if p != nil {
		for t := range bp.active {
			t.bar.Abort(true)
		}
		bp.active = nil
		close(bp.stop)
		bp.unhook()
		bp.p = nil
	}
	bp.mu.Unlock()
	if p != nil {
		<-polled
		p.Wait()
	}
}

// end removes t's bar, leaving line (if any) in its place above the bars
// still running.
func (bp *barProgress) end(t *barTracker, line string) {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	if _, ok := bp.active[t]; !ok {
		return
	}
	delete(bp.active, t)
	t.bar.SetCurrent(t.n.Load())
	if line != "" {
		_, _ = bp.p.Write([]byte(line))
	}
	t.bar.Abort(true)
}

// barTracker follows one artifact.
type barTracker struct {
	bp       *barProgress
	bar      *mpb.Bar
	label    string
	started  time.Time
	n        atomic.Int64 // bytes of the current attempt
	attempts int
}

// Reader counts the attempt's bytes; another attempt starts from zero.
func (t *barTracker) Reader(r io.Reader) io.Reader {
	t.n.Store(0)
	if t.attempts++; t.attempts > 1 {
		t.bar.SetCurrent(0)
		t.bar.DecoratorAverageAdjust(time.Now())
	}
	return &countingReader{r: r, n: &t.n}
}

// Done replaces the bar by what was downloaded, how much and how fast.
func (t *barTracker) Done(r install.Result) {
	d := time.Since(t.started)
	line := fmt.Sprintf("Downloaded %s (%s): % .1f in %s", t.label, r.Type, decor.SizeB1024(r.Bytes), d.Round(time.Millisecond))
	if s := d.Seconds(); s > 0 {
		line += fmt.Sprintf(", % .1f/s", decor.SizeB1024(int64(float64(r.Bytes)/s)))
	}
	t.bp.end(t, line+"\n")
}

// Fail removes the bar; the error is reported with the others.
func (t *barTracker) Fail(error) { t.bp.end(t, "") }

// countingReader adds what it reads to n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// artifactLabel names r as results do: INDEX/NAME VERSION.
func artifactLabel(r install.Result) string {
	name := r.Name
	if r.Index != "" {
		name = r.Index + "/" + r.Name
	}
	if r.Version != "" {
		name += " " + r.Version
	}
	return name
}
