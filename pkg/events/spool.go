package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferryhq/ferry/internal/fsutil"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

const (
	spoolVersion = 1
	lockPrefix   = ".lock-"
	// staleTemp is the age after which a temporary spool file is taken to
	// belong to a process that died while writing it.
	staleTemp = time.Hour
)

// Spooled is one event waiting in the spool for one sink.
type Spooled struct {
	Path   string `json:"path"`
	Sink   string `json:"sink"`
	Binary bool   `json:"binary,omitempty"`
	// Headers are the sink's header templates when it was spooled.
	Headers   map[string]string `json:"headers,omitempty"`
	SpooledAt time.Time         `json:"spooledAt"`
	Attempts  int               `json:"attempts"`
	LastError string            `json:"lastError,omitempty"`
	// From the CloudEvent:
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Source  string    `json:"source"`
	Subject string    `json:"subject"`
	Time    time.Time `json:"time"`
	// Event is the CloudEvent in structured JSON form.
	Event json.RawMessage `json:"event,omitempty"`
}

// spoolFile is the content of a spool file.
type spoolFile struct {
	Version   int               `json:"version"`
	Sink      string            `json:"sink"`
	Binary    bool              `json:"binary,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	SpooledAt time.Time         `json:"spooledAt"`
	Attempts  int               `json:"attempts"`
	LastError string            `json:"lastError,omitempty"`
	Event     json.RawMessage   `json:"event"`
}

// List returns what the spool directory holds, oldest first. A missing
// directory is an empty spool. A file that cannot be parsed is listed with
// an empty Sink and the reason in LastError.
func List(spoolDir string) ([]Spooled, error) {
	return list(spoolDir, "")
}

// list reads the spool files of the sink with key (all with key "").
func list(spoolDir, key string) ([]Spooled, error) {
	names, err := spoolNames(spoolDir)
	if err != nil {
		return nil, err
	}
	out := make([]Spooled, 0, len(names))
	for _, name := range names {
		if key != "" && !nameHasKey(name, key) {
			continue
		}
		p := filepath.Join(spoolDir, name)
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // delivered meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading spool: %w", err)
		}
		out = append(out, parseSpooled(p, data))
	}
	return out, nil
}

func parseSpooled(path string, data []byte) Spooled {
	var f spoolFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Spooled{Path: path, LastError: "corrupt spool file: " + err.Error()}
	}
	if f.Version != spoolVersion || f.Sink == "" || len(f.Event) == 0 {
		return Spooled{Path: path, LastError: fmt.Sprintf("unknown spool file format (version %d)", f.Version)}
	}
	var head struct {
		ID      string    `json:"id"`
		Type    string    `json:"type"`
		Source  string    `json:"source"`
		Subject string    `json:"subject"`
		Time    time.Time `json:"time"`
	}
	if err := json.Unmarshal(f.Event, &head); err != nil {
		return Spooled{Path: path, LastError: "corrupt event: " + err.Error()}
	}
	return Spooled{
		Path: path, Sink: f.Sink, Binary: f.Binary, Headers: f.Headers, SpooledAt: f.SpooledAt,
		Attempts: f.Attempts, LastError: f.LastError,
		ID: head.ID, Type: head.Type, Source: head.Source, Subject: head.Subject, Time: head.Time,
		Event: f.Event,
	}
}

func (s Spooled) event() (*cloudevents.Event, error) {
	ev := cloudevents.NewEvent()
	if err := json.Unmarshal(s.Event, &ev); err != nil {
		return nil, fmt.Errorf("spool file %s: %w", s.Path, err)
	}
	return &ev, nil
}

// spoolNames lists the spool files, sorted (oldest first).
func spoolNames(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading spool: %w", err)
	}
	var names []string
	for _, de := range des {
		n := de.Name()
		if de.Type().IsRegular() && !strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".json") {
			names = append(names, n)
		}
	}
	return names, nil // os.ReadDir sorts by name
}

// spoolName is <unixnano, 20 digits>-<sink key>-<event id>.json.
func spoolName(t time.Time, key, id string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, id)
	if len(safe) > 100 {
		safe = safe[:100]
	}
	return fmt.Sprintf("%020d-%s-%s.json", t.UnixNano(), key, safe)
}

func hasSinkFiles(dir, key string) bool {
	names, err := spoolNames(dir)
	if err != nil {
		return true // let drain report it
	}
	for _, n := range names {
		if nameHasKey(n, key) {
			return true
		}
	}
	return false
}

// nameHasKey reports whether a spool file name (see spoolName) is for the
// sink with key.
func nameHasKey(name, key string) bool {
	return len(name) > 21+len(key) && name[21:21+len(key)] == key
}

// spool writes ev for s into the spool.
func (e *Emitter) spool(s *sink, ev *cloudevents.Event, raw []byte, attempts int, lastErr string) error {
	if e.spoolDir == "" {
		return errors.New("no spool directory configured")
	}
	data, err := json.Marshal(spoolFile{
		Version: spoolVersion, Sink: s.URL, Binary: s.Binary, Headers: s.Headers,
		SpooledAt: e.now().UTC(), Attempts: attempts, LastError: lastErr, Event: raw,
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(e.spoolDir, 0o700); err != nil {
		return fmt.Errorf("spooling: %w", err)
	}
	if err := fsutil.WriteFile(filepath.Join(e.spoolDir, spoolName(ev.Time(), s.key, ev.ID())), data, 0o600); err != nil {
		return fmt.Errorf("spooling: %w", err)
	}
	return nil
}

// updateEntry records a failed attempt in en's file.
func (e *Emitter) updateEntry(en Spooled, cause error) error {
	data, err := os.ReadFile(en.Path)
	if err != nil {
		return err
	}
	var f spoolFile
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	f.Attempts++
	f.LastError = cause.Error()
	data, err = json.Marshal(f)
	if err != nil {
		return err
	}
	return fsutil.WriteFile(en.Path, data, 0o600)
}

// removeStaleTemps deletes temporary files left by writers that died.
func removeStaleTemps(dir string) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range des {
		if !fsutil.IsTemp(de.Name()) {
			continue
		}
		if info, err := de.Info(); err == nil && time.Since(info.ModTime()) > staleTemp {
			_ = os.Remove(filepath.Join(dir, de.Name()))
		}
	}
}

// appendLine appends line and a newline to path in one write on an
// O_APPEND descriptor, so lines of concurrent writers never interleave.
func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// lockSink takes the flock of key's spool entries, waiting until ctx is
// done. flock locks belong to the open file description, so two Emitters
// in one process exclude each other as two processes do.
func lockSink(ctx context.Context, dir, key string) (unlock func(), err error) {
	p := filepath.Join(dir, lockPrefix+key)
	release, err := fsutil.Lock(ctx, p, 0o600)
	if err != nil {
		return nil, fmt.Errorf("another ferry process may be sending the spooled events: %w", err)
	}
	return func() { _ = release() }, nil
}
