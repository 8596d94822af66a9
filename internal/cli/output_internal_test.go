package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
)

// The streaming writers print what encoding/json and text/tabwriter would.
func TestStreamingOutputMatchesBuffered(t *testing.T) {
	for _, rows := range [][][]string{
		nil,
		{{"default", "falco-rules", "rulesfile", "ghcr.io/falcosecurity/rules/falco-rules", "Falco rules <&> é…"}},
		{{"a", "b", "c", "d", ""}, {"longer-index", "ünïcode", "", "x", "last"}, {"", "", "", "", "y"}},
	} {
		header := []string{"INDEX", "NAME", "TYPE", "REPOSITORY", "DESCRIPTION"}
		var want, got bytes.Buffer
		tw := tabwriter.NewWriter(&want, 0, 4, 2, ' ', 0)
		for _, r := range append([][]string{header}, rows...) {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r[0], r[1], r[2], r[3], r[4])
		}
		tw.Flush()
		if err := writeTable(&got, header, slices.Values(rows)); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("table:\n got %q\nwant %q", got.String(), want.String())
		}

		views := make([]entryView, 0, len(rows))
		for i, r := range rows {
			views = append(views, entryView{Name: r[1] + r[4], Index: r[0], Type: r[2], Repository: r[3], Description: r[4],
				Keywords: r[:i%3], License: r[1], Signed: i%2 == 0})
		}
		want.Reset()
		got.Reset()
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(views); err != nil {
			t.Fatal(err)
		}
		if err := writeJSONRows(&got, func(yield func(*entryView) bool) {
			for i := range views {
				if !yield(&views[i]) {
					return
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("json:\n got %s\nwant %s", got.String(), want.String())
		}
	}
}

// The hand-written JSON of an entry escapes every string as encoding/json
// does: quotes, backslashes, control characters, HTML, invalid UTF-8 and
// the JavaScript line separators.
func TestEntryJSONMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `q"uote`, `back\slash`, "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f\x7f", "<a href=\"x\">&amp;</a>",
		"é…✓ 日本", "bad\xffutf8\xc3", "sep\u2028para\u2029", "\U0001F600 emoji", strings.Repeat("long ", 100)}
	for i, s := range strs {
		v := entryView{Name: s, Index: strs[(i+1)%len(strs)], Type: "rulesfile", Registry: s, Repository: s + "/x",
			Description: strs[(i+2)%len(strs)], Home: s, Keywords: strs[:i%4], License: s, Source: strs[(i+3)%len(strs)], Signed: i%2 == 1}
		want, err := json.MarshalIndent(&v, "  ", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got := v.appendJSON(nil); string(got) != string(want) {
			t.Errorf("entry %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestOneLine(t *testing.T) {
	for _, s := range []string{
		"", " ", "a", "a b", " a", "a ", "a  b", "a\tb", "a\nb", "é ✓ x", "\u00a0a", "a\u2003b",
		"exactly ten", "longer than ten runes", "ünïcödé ünïcödé", "  many   spaces   and a long tail here  ",
	} {
		for _, max := range []int{1, 5, 10, 60} {
			want := strings.Join(strings.Fields(s), " ")
			if r := []rune(want); len(r) > max {
				want = string(r[:max-1]) + "…"
			}
			if got := oneLine(s, max); got != want {
				t.Errorf("oneLine(%q, %d) = %q, want %q", s, max, got, want)
			}
		}
	}
}
