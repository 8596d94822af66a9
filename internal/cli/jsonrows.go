package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"iter"
	"strconv"
	"unicode/utf8"
)

// A listing of a big index prints tens of thousands of entries: they are
// written one at a time into one reused buffer, as encoding/json would
// write them (json.MarshalIndent with the same indentation, HTML-safe
// escaping), without reflection and without holding the listing in memory.

// jsonRow appends one value of an array as indented JSON; depth 1 is an
// element of a top-level array.
type jsonRow interface {
	appendJSON(b []byte) []byte
}

// writeJSONRows writes rows as one indented JSON array, byte for byte what
// f.PrintJSON writes for the slice of them.
func writeJSONRows[R jsonRow](out io.Writer, rows iter.Seq[R]) error {
	w := bufio.NewWriterSize(out, 64<<10)
	buf := make([]byte, 0, 4<<10)
	n := 0
	for r := range rows {
		buf = buf[:0]
		if n == 0 {
			buf = append(buf, "[\n  "...)
		} else {
			buf = append(buf, ",\n  "...)
		}
		buf = r.appendJSON(buf)
		if _, err := w.Write(buf); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		w.WriteString("[]\n")
	} else {
		w.WriteString("\n]\n")
	}
	return w.Flush()
}

// jsonObject appends the fields of one object at a given depth, with
// encoding/json's indentation of two spaces per level.
type jsonObject struct {
	b      []byte
	indent string // of the fields
	n      int
}

func newJSONObject(b []byte, depth int) *jsonObject {
	b = append(b, '{')
	return &jsonObject{b: b, indent: spaces(2 * (depth + 1))}
}

func spaces(n int) string {
	const s = "                                "
	if n <= len(s) {
		return s[:n]
	}
	out := make([]byte, n)
	for i := range out {
		out[i] = ' '
	}
	return string(out)
}

func (o *jsonObject) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '\n')
	o.b = append(o.b, o.indent...)
	o.b = appendJSONString(o.b, k)
	o.b = append(o.b, ':', ' ')
	o.n++
}

func (o *jsonObject) str(k, v string) {
	o.key(k)
	o.b = appendJSONString(o.b, v)
}

// strOmit is str for a field tagged omitempty.
func (o *jsonObject) strOmit(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

func (o *jsonObject) boolean(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

// strsOmit is a []string field tagged omitempty.
func (o *jsonObject) strsOmit(k string, vs []string) {
	if len(vs) == 0 {
		return
	}
	o.key(k)
	o.b = append(o.b, '[')
	inner := o.indent + "  "
	for i, v := range vs {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = append(o.b, '\n')
		o.b = append(o.b, inner...)
		o.b = appendJSONString(o.b, v)
	}
	o.b = append(o.b, '\n')
	o.b = append(o.b, o.indent...)
	o.b = append(o.b, ']')
}

// end closes the object and returns the buffer.
func (o *jsonObject) end() []byte {
	if o.n == 0 {
		return append(o.b, '}')
	}
	o.b = append(o.b, '\n')
	o.b = append(o.b, o.indent[:len(o.indent)-2]...)
	return append(o.b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string with encoding/json's
// escaping: control characters, <, > and & as \u00XX (\b \f \n \r \t
// short), invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// printJSON writes v (a view) as indented JSON, as f.PrintJSON does.
func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
