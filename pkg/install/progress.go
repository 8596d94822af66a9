package install

import (
	"context"
	"io"
)

// Progress observes the downloads of an install. Installer.Progress is nil
// by default: nothing is observed and the download path is unchanged.
type Progress interface {
	// Start is called when an artifact's layer starts downloading. r is
	// its result so far: name, index, version, type, and the layer's size
	// in Bytes. The Tracker returned follows that artifact to its end.
	Start(r Result) Tracker
}

// Tracker follows the download of one artifact. Its methods may be called
// from several goroutines at once (one per artifact), each Tracker from one.
type Tracker interface {
	// Reader wraps the layer stream of one download attempt; it is called
	// once per attempt, never per read. An attempt on another channel
	// starts again from zero bytes. The reader returned must pass reads and
	// errors through unchanged.
	Reader(r io.Reader) io.Reader
	// Done reports that the artifact was installed, with its result.
	Done(r Result)
	// Fail reports that it was not.
	Fail(err error)
}

// fetchTracked is fetch reported to in.Progress, when there is one.
func (in *Installer) fetchTracked(ctx context.Context, j *job, downloads *downloadSlots) error {
	if in.Progress == nil {
		return in.fetch(ctx, j, downloads)
	}
	j.track = in.Progress.Start(*j.res)
	err := in.fetch(ctx, j, downloads)
	if err != nil {
		j.track.Fail(err)
	}
	// Done once the install's commit has swapped it in (commitAll).
	return err
}

// reader wraps one download attempt's stream for the job's tracker.
func (j *job) reader(r io.Reader) io.Reader {
	if j.track == nil {
		return r
	}
	return j.track.Reader(r)
}
