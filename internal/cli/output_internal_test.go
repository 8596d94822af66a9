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
	type view struct {
		Name     string   `json:"name"`
		Keywords []string `json:"keywords,omitempty"`
		Nested   struct {
			A int `json:"a"`
		} `json:"nested"`
	}
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

		views := make([]view, 0, len(rows))
		for _, r := range rows {
			v := view{Name: r[1] + r[4], Keywords: r[:2]}
			v.Nested.A = len(r[0])
			views = append(views, v)
		}
		want.Reset()
		got.Reset()
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(views); err != nil {
			t.Fatal(err)
		}
		if err := writeJSONArray(&got, func(yield func(any) bool) {
			for _, v := range views {
				if !yield(v) {
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
