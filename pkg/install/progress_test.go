package install_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
)

// recorder is a Progress that keeps what it was told.
type recorder struct {
	mu       sync.Mutex
	trackers []*recTracker
}

func (p *recorder) Start(r install.Result) install.Tracker {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := &recTracker{start: r}
	p.trackers = append(p.trackers, t)
	return t
}

type recTracker struct {
	start    install.Result
	attempts []*countReader
	done     *install.Result
	err      error
	ends     int
}

func (t *recTracker) Reader(r io.Reader) io.Reader {
	c := &countReader{r: r}
	t.attempts = append(t.attempts, c)
	return c
}

func (t *recTracker) Done(r install.Result) { t.done, t.ends = &r, t.ends+1 }
func (t *recTracker) Fail(err error)        { t.err, t.ends = err, t.ends+1 }

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestProgressFollowsEveryAttempt(t *testing.T) {
	cf := newChannelFixture(t)
	cf.corruptLayer(cf.reg) // the primary serves the layer damaged, the mirror intact
	in := cf.installer([]index.Entry{cf.entry}, "linux/amd64")
	in.HTTP = cf.httpSrv.Client()
	rec := &recorder{}
	in.Progress = rec
	results, err := in.Install(context.Background(), install.Request{Refs: []string{"my-rules:1.x"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.trackers) != 1 {
		t.Fatalf("%d trackers started for one artifact", len(rec.trackers))
	}
	tr := rec.trackers[0]
	if tr.start.Name != "my-rules" || tr.start.Version != "1.0.0" || tr.start.Bytes != int64(len(cf.layer)) {
		t.Errorf("started with %+v, want my-rules 1.0.0 of %d bytes", tr.start, len(cf.layer))
	}
	if len(tr.attempts) != 2 {
		t.Fatalf("%d attempts wrapped, want the damaged primary and the mirror", len(tr.attempts))
	}
	for i, a := range tr.attempts {
		if a.n != int64(len(cf.layer)) {
			t.Errorf("attempt %d counted %d bytes, the layer has %d", i, a.n, len(cf.layer))
		}
	}
	if tr.ends != 1 || tr.err != nil || tr.done == nil || tr.done.Status != install.StatusInstalled || tr.done.Digest != results[0].Digest {
		t.Errorf("end: %d calls, err %v, done %+v", tr.ends, tr.err, tr.done)
	}

	// Nothing to download: nothing to report.
	rec.trackers = nil
	if _, err := in.Install(context.Background(), install.Request{Refs: []string{"my-rules:1.x"}}); err != nil {
		t.Fatal(err)
	}
	if len(rec.trackers) != 0 {
		t.Errorf("an up-to-date artifact started %d trackers", len(rec.trackers))
	}
}

func TestProgressFail(t *testing.T) {
	cf := newChannelFixture(t)
	cf.corruptLayer(cf.mirror)
	cf.failLayer(cf.reg, http.StatusBadGateway)
	cf.httpBad = true
	in := cf.installer([]index.Entry{cf.entry}, "linux/amd64")
	in.HTTP = cf.httpSrv.Client()
	rec := &recorder{}
	in.Progress = rec
	_, err := in.Install(context.Background(), install.Request{Refs: []string{"my-rules:1.x"}})
	if err == nil {
		t.Fatal("every channel is broken, yet the install succeeded")
	}
	if len(rec.trackers) != 1 {
		t.Fatalf("%d trackers", len(rec.trackers))
	}
	if tr := rec.trackers[0]; tr.ends != 1 || tr.done != nil || tr.err == nil || tr.err.Error() != err.Error() {
		t.Errorf("end: %d calls, done %+v, err %v (install returned %v)", tr.ends, tr.done, tr.err, err)
	}
}
