package cmdutil

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// logTimeFormat is the timestamp layout of falcoctl's JSON logs.
const logTimeFormat = "2006-01-02 15:04:05"

// LogWriter is the command's stderr. In JSON mode every line written to it
// becomes one JSON object as falcoctl's logger writes them: level
// (ERROR, WARN, INFO), timestamp, msg. A line that already is a JSON object
// (from the JSON log handler) passes unchanged.
type LogWriter struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	buf  []byte
	// Now reads the clock (tests replace it).
	Now func() time.Time
}

// NewLogWriter wraps w.
func NewLogWriter(w io.Writer) *LogWriter { return &LogWriter{w: w, Now: time.Now} }

// SetJSON turns JSON mode on or off.
func (l *LogWriter) SetJSON(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.json = on
}

// JSON reports whether the writer is in JSON mode.
func (l *LogWriter) JSON() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.json
}

func (l *LogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.json {
		return l.w.Write(p)
	}
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		line := string(l.buf[:i])
		l.buf = l.buf[i+1:]
		if err := l.writeLine(line); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}

// Flush writes a last line that has no newline.
func (l *LogWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.json && len(l.buf) > 0 {
		_ = l.writeLine(string(l.buf))
		l.buf = nil
	}
}

var linePrefixes = []struct{ prefix, level string }{
	{"error: ", "ERROR"}, {"Error: ", "ERROR"}, {"warning: ", "WARN"}, {"note: ", "INFO"}, {"hint: ", "INFO"},
}

func (l *LogWriter) writeLine(line string) error {
	line = strings.TrimRight(line, "\r")
	if strings.TrimSpace(line) == "" {
		return nil
	}
	if strings.HasPrefix(line, "{") && json.Valid([]byte(line)) {
		_, err := io.WriteString(l.w, line+"\n")
		return err
	}
	level, msg := "INFO", line
	rec := map[string]any{}
	for _, p := range linePrefixes {
		if rest, ok := strings.CutPrefix(line, p.prefix); ok {
			level, msg = p.level, rest
			if p.prefix == "hint: " {
				rec["hint"] = true
			}
			break
		}
	}
	rec["level"], rec["timestamp"], rec["msg"] = level, l.Now().Format(logTimeFormat), msg
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = l.w.Write(append(data, '\n'))
	return err
}

// WriteLogLine writes one JSON log line as falcoctl's logger does: attrs,
// level, timestamp and msg.
func WriteLogLine(w io.Writer, level, msg string, attrs map[string]any) error {
	rec := map[string]any{}
	for k, v := range attrs {
		rec[k] = v
	}
	rec["level"], rec["timestamp"], rec["msg"] = level, time.Now().Format(logTimeFormat), msg
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// jsonLogHandler is a slog handler writing falcoctl's JSON lines: level,
// timestamp, msg and the attributes as keys.
type jsonLogHandler struct {
	w     io.Writer
	level slog.Level
	attrs []slog.Attr
	mu    *sync.Mutex
}

// NewJSONLogHandler logs records at level or above to w as JSON lines.
func NewJSONLogHandler(w io.Writer, level slog.Level) slog.Handler {
	return &jsonLogHandler{w: w, level: level, mu: &sync.Mutex{}}
}

func (h *jsonLogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *jsonLogHandler) Handle(_ context.Context, r slog.Record) error {
	rec := map[string]any{}
	add := func(a slog.Attr) {
		v := a.Value.Resolve()
		switch v.Kind() {
		case slog.KindDuration:
			rec[a.Key] = v.Duration().String()
		case slog.KindTime:
			rec[a.Key] = v.Time().Format(time.RFC3339)
		default:
			rec[a.Key] = v.Any()
		}
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool { add(a); return true })
	level := r.Level.String()
	rec["level"], rec["msg"] = level, r.Message
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	rec["timestamp"] = t.Format(logTimeFormat)
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err = h.w.Write(append(data, '\n'))
	return err
}

func (h *jsonLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), attrs...)
	return &c
}

func (h *jsonLogHandler) WithGroup(string) slog.Handler { return h }
