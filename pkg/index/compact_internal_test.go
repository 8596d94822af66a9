package index

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// A record that decodes, whatever its bytes, encodes back to an entry that
// decodes the same; a record that does not is reported, never a panic or a
// huge allocation.
func FuzzCompactRecord(f *testing.F) {
	for _, e := range []Entry{
		{},
		{Name: "a", Type: "plugin", Registry: "r", Repository: "x/a", Keywords: []string{"k"}},
		{Name: "b", Signature: &Signature{}, Mirrors: []Mirror{{URL: "https://x/{name}", Digests: map[string]string{"f": "sha256:00"}}}},
		{Name: "c", Signature: &Signature{Cosign: &Cosign{Key: "k", IgnoreTlog: true}}, Maintainers: []Maintainer{{Name: "m"}}},
	} {
		f.Add(string(appendEntry(nil, &e)))
	}
	f.Add("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")
	f.Fuzz(func(t *testing.T, rec string) {
		d := decoder{s: rec}
		e := d.entry()
		if d.bad || d.i != len(rec) {
			return
		}
		again := decoder{s: string(appendEntry(nil, &e))}
		if diff := cmp.Diff(e, again.entry(), cmpopts.EquateEmpty()); diff != "" || again.bad {
			t.Fatalf("re-encoded record differs (bad=%v):\n%s", again.bad, diff)
		}
	})
}
