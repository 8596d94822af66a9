package index_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ferryhq/ferry/pkg/index"
)

var (
	hex64  = strings.Repeat("ab", 32)
	digest = "sha256:" + hex64
)

func TestParseReference(t *testing.T) {
	tests := []struct {
		in     string
		want   index.Reference
		oci    bool
		layout bool
	}{
		{in: "falco-rules", want: index.Reference{Name: "falco-rules"}},
		{in: "dummy_c", want: index.Reference{Name: "dummy_c"}},
		{in: "falco-rules:3", want: index.Reference{Name: "falco-rules", Constraint: "3"}},
		{in: "falco-rules:1.2", want: index.Reference{Name: "falco-rules", Constraint: "1.2"}},
		{in: "falco-rules:1.2.3", want: index.Reference{Name: "falco-rules", Constraint: "1.2.3"}},
		{in: "falco-rules:1.2.3-rc.1", want: index.Reference{Name: "falco-rules", Constraint: "1.2.3-rc.1"}},
		{in: "falco-rules:1.x", want: index.Reference{Name: "falco-rules", Constraint: "1.x"}},
		{in: "falco-rules:~1.2", want: index.Reference{Name: "falco-rules", Constraint: "~1.2"}},
		{in: "falco-rules:^1.2.3", want: index.Reference{Name: "falco-rules", Constraint: "^1.2.3"}},
		{in: "falco-rules:*", want: index.Reference{Name: "falco-rules", Constraint: "*"}},
		{in: "falco-rules:latest", want: index.Reference{Name: "falco-rules", Constraint: "latest"}},
		{in: "falco-rules:>=1.0.0 <2.0.0", want: index.Reference{Name: "falco-rules", Constraint: ">=1.0.0 <2.0.0"}},
		{in: "falco-rules:>=1.0.0, <2.0.0", want: index.Reference{Name: "falco-rules", Constraint: ">=1.0.0, <2.0.0"}},
		{in: "falco-rules:1.x || 3.x", want: index.Reference{Name: "falco-rules", Constraint: "1.x || 3.x"}},
		{in: "falco-rules@" + digest, want: index.Reference{Name: "falco-rules", Digest: digest}},
		{in: "acme/falco-rules", want: index.Reference{Index: "acme", Name: "falco-rules"}},
		{in: "acme/falco-rules:>=1.0.0 <2.0.0", want: index.Reference{Index: "acme", Name: "falco-rules", Constraint: ">=1.0.0 <2.0.0"}},
		{in: "acme/falco-rules@" + digest, want: index.Reference{Index: "acme", Name: "falco-rules", Digest: digest}},
		{in: "ghcr.io/falcosecurity/rules/falco-rules", oci: true, want: index.Reference{Registry: "ghcr.io", Repository: "falcosecurity/rules/falco-rules"}},
		{in: "ghcr.io/falcosecurity/rules/falco-rules:3.0.1", oci: true, want: index.Reference{Registry: "ghcr.io", Repository: "falcosecurity/rules/falco-rules", Tag: "3.0.1"}},
		{in: "ghcr.io/falcosecurity/rules/falco-rules:latest", oci: true, want: index.Reference{Registry: "ghcr.io", Repository: "falcosecurity/rules/falco-rules", Tag: "latest"}},
		{in: "ghcr.io/falcosecurity/rules/falco-rules@" + digest, oci: true, want: index.Reference{Registry: "ghcr.io", Repository: "falcosecurity/rules/falco-rules", Digest: digest}},
		{in: "ghcr.io/a/b:3.0.1@" + digest, oci: true, want: index.Reference{Registry: "ghcr.io", Repository: "a/b", Tag: "3.0.1", Digest: digest}},
		{in: "localhost:5000/rules:1.0.0", oci: true, want: index.Reference{Registry: "localhost:5000", Repository: "rules", Tag: "1.0.0"}},
		{in: "localhost/rules", oci: true, want: index.Reference{Registry: "localhost", Repository: "rules"}},
		{in: "127.0.0.1:5000/a/b__c.d-e", oci: true, want: index.Reference{Registry: "127.0.0.1:5000", Repository: "a/b__c.d-e"}},
		{in: "[::1]:5000/rules:v1", oci: true, want: index.Reference{Registry: "[::1]:5000", Repository: "rules", Tag: "v1"}},
		{in: "oci-layout:./bundle", layout: true, want: index.Reference{LayoutPath: "./bundle"}},
		{in: "oci-layout:/var/lib/ferry/bundle:3.0.1", layout: true, want: index.Reference{LayoutPath: "/var/lib/ferry/bundle", Tag: "3.0.1"}},
		{in: "oci-layout:/tmp/a:b/c", layout: true, want: index.Reference{LayoutPath: "/tmp/a:b/c"}},
		{in: "oci-layout:bundle@" + digest, layout: true, want: index.Reference{LayoutPath: "bundle", Digest: digest}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := index.ParseReference(tt.in)
			if err != nil {
				t.Fatalf("ParseReference: %v", err)
			}
			tt.want.Raw = tt.in
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseReference (-want +got):\n%s", diff)
			}
			if got.IsOCI() != tt.oci || got.IsLayout() != tt.layout {
				t.Errorf("IsOCI, IsLayout = %v, %v; want %v, %v", got.IsOCI(), got.IsLayout(), tt.oci, tt.layout)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("String() = %q, want %q", s, tt.in)
			}
		})
	}
}

func TestParseReferenceErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"", `invalid reference "": empty reference`},
		{"  ", `invalid reference "  ": empty reference`},
		{"Falco-Rules", `invalid reference "Falco-Rules": invalid artifact name "Falco-Rules": must match ^[a-z]+[a-z0-9_-]*$`},
		{"1rules", `invalid reference "1rules": invalid artifact name "1rules": must match ^[a-z]+[a-z0-9_-]*$`},
		{"falco rules", `invalid reference "falco rules": invalid artifact name "falco rules": must match ^[a-z]+[a-z0-9_-]*$`},
		{"falco-rules:", `invalid reference "falco-rules:": empty constraint after ':'`},
		{"falco-rules: ", `invalid reference "falco-rules: ": empty constraint after ':'`},
		{"falco-rules:banana", `invalid reference "falco-rules:banana": invalid constraint "banana": improper constraint: banana`},
		{"falco-rules@sha256:abc", `invalid reference "falco-rules@sha256:abc": invalid digest "sha256:abc": want sha256: and 64 lowercase hex digits`},
		{"falco-rules@sha256:" + strings.ToUpper(hex64), `invalid reference "falco-rules@sha256:` + strings.ToUpper(hex64) + `": invalid digest "sha256:` + strings.ToUpper(hex64) + `": want sha256: and 64 lowercase hex digits`},
		{"falco-rules@sha512:" + hex64, `invalid reference "falco-rules@sha512:` + hex64 + `": invalid digest "sha512:` + hex64 + `": want sha256: and 64 lowercase hex digits`},
		{"falco-rules:1.0.0@" + digest, `invalid reference "falco-rules:1.0.0@` + digest + `": give a constraint or a digest, not both`},
		{"falcosecurity/rules/falco-rules", `invalid reference "falcosecurity/rules/falco-rules": more than one '/': a full OCI reference starts with a registry host (containing '.' or ':', or localhost), an index reference is INDEX/NAME`},
		{"Acme/falco-rules", `invalid reference "Acme/falco-rules": invalid index name "Acme": must match ^[a-z]+[a-z0-9_-]*$`},
		{"acme/", `invalid reference "acme/": invalid artifact name "": must match ^[a-z]+[a-z0-9_-]*$`},
		{"/falco-rules", `invalid reference "/falco-rules": invalid index name "": must match ^[a-z]+[a-z0-9_-]*$`},
		{"ghcr.io/Falcosecurity/rules", `invalid reference "ghcr.io/Falcosecurity/rules": invalid repository "Falcosecurity/rules": want lowercase path components`},
		{"ghcr.io/", `invalid reference "ghcr.io/": invalid repository "": want lowercase path components`},
		{"ghcr.io/a//b", `invalid reference "ghcr.io/a//b": invalid repository "a//b": want lowercase path components`},
		{"ghcr.io/a/b:", `invalid reference "ghcr.io/a/b:": invalid tag ""`},
		{"ghcr.io/a/b:>=1.0", `invalid reference "ghcr.io/a/b:>=1.0": invalid tag ">=1.0"`},
		{"ghcr..io/a/b", `invalid reference "ghcr..io/a/b": invalid registry host "ghcr..io"`},
		{"falco-rules:1.x/b", `invalid reference "falco-rules:1.x/b": invalid registry host "falco-rules:1.x"`},
		{"oci-layout:", `invalid reference "oci-layout:": missing layout path after "oci-layout:"`},
		{"oci-layout:bundle:", `invalid reference "oci-layout:bundle:": invalid tag ""`},
		{"oci-layout:bundle@sha256:1", `invalid reference "oci-layout:bundle@sha256:1": invalid digest "sha256:1": want sha256: and 64 lowercase hex digits`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := index.ParseReference(tt.in)
			if err == nil {
				t.Fatal("ParseReference: no error")
			}
			if err.Error() != tt.wantErr {
				t.Errorf("error:\n got %s\nwant %s", err, tt.wantErr)
			}
			if !errors.Is(err, index.ErrInvalidReference) {
				t.Errorf("errors.Is(err, ErrInvalidReference) = false")
			}
			var re *index.ReferenceError
			if !errors.As(err, &re) || re.Ref != tt.in {
				t.Errorf("error %#v is not a *ReferenceError for %q", err, tt.in)
			}
		})
	}
	_, err := index.ParseReference("x:banana")
	if !errors.Is(err, index.ErrInvalidConstraint) {
		t.Errorf("a bad constraint in a reference: errors.Is(%v, ErrInvalidConstraint) = false", err)
	}
}

func TestReferenceString(t *testing.T) {
	tests := []struct {
		ref  index.Reference
		want string
	}{
		{index.Reference{Name: "a"}, "a"},
		{index.Reference{Index: "i", Name: "a", Constraint: "1.x"}, "i/a:1.x"},
		{index.Reference{Name: "a", Digest: digest}, "a@" + digest},
		{index.Reference{Registry: "r.io", Repository: "x/y", Tag: "1"}, "r.io/x/y:1"},
		{index.Reference{LayoutPath: "/b", Tag: "1", Digest: digest}, "oci-layout:/b:1@" + digest},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.ref.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			back, err := index.ParseReference(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.ref, back, cmpopts.IgnoreFields(index.Reference{}, "Raw")); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}
