package events

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	packageurl "github.com/package-url/packageurl-go"
)

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestPURL(t *testing.T) {
	base := Artifact{Registry: "ghcr.io", Repository: "falcosecurity/rules/falco-rules", Tag: "3.0.1", Digest: "sha256:" + hex64}
	with := func(f func(*Artifact)) Artifact {
		a := base
		f(&a)
		return a
	}
	for _, c := range []struct {
		name string
		a    Artifact
		want string
	}{
		{"FORMATS.md example", base,
			"pkg:oci/falco-rules@sha256:" + hex64 + "?repository_url=ghcr.io%2Ffalcosecurity%2Frules%2Ffalco-rules&tag=3.0.1"},
		{"platform adds arch, qualifiers sorted", with(func(a *Artifact) {
			a.Repository, a.Tag, a.Platform = "falcosecurity/plugins/plugin/k8saudit", "0.7.0", "linux/arm64"
		}), "pkg:oci/k8saudit@sha256:" + hex64 + "?arch=arm64&repository_url=ghcr.io%2Ffalcosecurity%2Fplugins%2Fplugin%2Fk8saudit&tag=0.7.0"},
		{"variant kept and its slash escaped", with(func(a *Artifact) { a.Platform = "linux/arm/v7" }),
			"pkg:oci/falco-rules@sha256:" + hex64 + "?arch=arm%2Fv7&repository_url=ghcr.io%2Ffalcosecurity%2Frules%2Ffalco-rules&tag=3.0.1"},
		{"no tag when installed by digest", with(func(a *Artifact) { a.Tag = "" }),
			"pkg:oci/falco-rules@sha256:" + hex64 + "?repository_url=ghcr.io%2Ffalcosecurity%2Frules%2Ffalco-rules"},
		{"port colon kept, host lowercased", with(func(a *Artifact) { a.Registry = "Localhost:5000" }),
			"pkg:oci/falco-rules@sha256:" + hex64 + "?repository_url=localhost:5000%2Ffalcosecurity%2Frules%2Ffalco-rules&tag=3.0.1"},
		{"name lowercased, repository path kept", with(func(a *Artifact) { a.Repository = "org/Rules" }),
			"pkg:oci/rules@sha256:" + hex64 + "?repository_url=ghcr.io%2Forg%2FRules&tag=3.0.1"},
		{"single-element repository", with(func(a *Artifact) { a.Repository = "rules" }),
			"pkg:oci/rules@sha256:" + hex64 + "?repository_url=ghcr.io%2Frules&tag=3.0.1"},
		{"tag characters escaped", with(func(a *Artifact) { a.Tag = "1.0.0+build.1" }),
			"pkg:oci/falco-rules@sha256:" + hex64 + "?repository_url=ghcr.io%2Ffalcosecurity%2Frules%2Ffalco-rules&tag=1.0.0%2Bbuild.1"},
		{"index name does not change the id", with(func(a *Artifact) { a.Name, a.Index = "rules", "mine" }),
			"pkg:oci/falco-rules@sha256:" + hex64 + "?repository_url=ghcr.io%2Ffalcosecurity%2Frules%2Ffalco-rules&tag=3.0.1"},
		{"sha512", with(func(a *Artifact) { a.Digest = "sha512:" + strings.Repeat(hex64, 2) }),
			"pkg:oci/falco-rules@sha512:" + strings.Repeat(hex64, 2) + "?repository_url=ghcr.io%2Ffalcosecurity%2Frules%2Ffalco-rules&tag=3.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := PURL(c.a)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("PURL:\n got %s\nwant %s", got, c.want)
			}
			// packageurl-go reads it back to the same components.
			p, err := packageurl.FromString(got)
			if err != nil {
				t.Fatal(err)
			}
			if p.Type != "oci" || p.Namespace != "" || p.Version != c.a.Digest {
				t.Errorf("packageurl-go reads type %q namespace %q version %q", p.Type, p.Namespace, p.Version)
			}
			if p.Qualifiers.Map()["repository_url"] != strings.ToLower(c.a.Registry)+"/"+c.a.Repository {
				t.Errorf("repository_url read back as %q", p.Qualifiers.Map()["repository_url"])
			}
		})
	}
}

func TestPURLCanonicalDiffersFromLibraryOnlyInTheColon(t *testing.T) {
	a := Artifact{Registry: "ghcr.io", Repository: "falcosecurity/rules/falco-rules", Tag: "3.0.1", Digest: "sha256:" + hex64}
	got, err := PURL(a)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := packageurl.FromString(got)
	lib := p.ToString()
	if diff := cmp.Diff(strings.Replace(lib, "sha256%3A", "sha256:", 1), got); diff != "" {
		t.Errorf("canonical form differs from packageurl-go's beyond the digest colon (-lib +ours):\n%s", diff)
	}
}

func TestPURLInvalid(t *testing.T) {
	ok := Artifact{Registry: "ghcr.io", Repository: "a/b", Digest: "sha256:" + hex64}
	for _, c := range []struct {
		name string
		mod  func(*Artifact)
	}{
		{"no digest", func(a *Artifact) { a.Digest = "" }},
		{"upper-case hex", func(a *Artifact) { a.Digest = "sha256:" + strings.ToUpper(hex64) }},
		{"short digest", func(a *Artifact) { a.Digest = "sha256:abc" }},
		{"not a digest", func(a *Artifact) { a.Digest = "3.0.1" }},
		{"no registry", func(a *Artifact) { a.Registry = "" }},
		{"no repository", func(a *Artifact) { a.Repository = "" }},
		{"repository of slashes", func(a *Artifact) { a.Repository = "//" }},
		{"platform without arch", func(a *Artifact) { a.Platform = "linux" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := ok
			c.mod(&a)
			if s, err := PURL(a); !errors.Is(err, ErrInvalidArtifact) {
				t.Errorf("PURL = %q, %v; want ErrInvalidArtifact", s, err)
			}
		})
	}
}

func TestPurlEscape(t *testing.T) {
	for in, want := range map[string]string{
		"abc-._~:XYZ09": "abc-._~:XYZ09",
		"a/b":           "a%2Fb",
		"a b":           "a%20b",
		"a&b=c?d#e@f%":  "a%26b%3Dc%3Fd%23e%40f%25",
		"é":             "%C3%A9",
	} {
		if got := purlEscape(in); got != want {
			t.Errorf("purlEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnescapeHTML(t *testing.T) {
	for in, want := range map[string]string{
		`{"s":"a\u0026b"}`:          `{"s":"a&b"}`,
		`{"s":"\u003cx\u003e"}`:     `{"s":"<x>"}`,
		`{"s":"a\\u0026b"}`:         `{"s":"a\\u0026b"}`,
		`{"s":"\\\u0026"}`:          `{"s":"\\&"}`,
		`{"s":"\"\u00e9\n"}`:        `{"s":"\"\u00e9\n"}`,
		`{"s":"no escapes at all"}`: `{"s":"no escapes at all"}`,
	} {
		if got := string(unescapeHTML([]byte(in))); got != want {
			t.Errorf("unescapeHTML(%s) = %s, want %s", in, got, want)
		}
	}
}

// A kernel driver is a file downloaded over HTTP: a generic package URL
// with its checksum and where it came from.
func TestPURLGeneric(t *testing.T) {
	a := Artifact{Name: "falco", Version: "8.0.0+driver", Digest: "sha256:" + hex64,
		URL: "https://download.falco.org/driver/8.0.0%2Bdriver/x86_64/falco_debian_6.1.38-2-cloud-amd64_1.ko"}
	got, err := PURL(a)
	if err != nil {
		t.Fatal(err)
	}
	want := "pkg:generic/falco@8.0.0%2Bdriver?checksum=sha256:" + hex64 +
		"&download_url=https:%2F%2Fdownload.falco.org%2Fdriver%2F8.0.0%252Bdriver%2Fx86_64%2Ffalco_debian_6.1.38-2-cloud-amd64_1.ko"
	if got != want {
		t.Errorf("PURL:\n got %s\nwant %s", got, want)
	}
	p, err := packageurl.FromString(got)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != "generic" || p.Version != a.Version || p.Qualifiers.Map()["download_url"] != a.URL || p.Qualifiers.Map()["checksum"] != a.Digest {
		t.Errorf("packageurl-go reads %+v", p)
	}
	for _, bad := range []Artifact{{URL: a.URL, Digest: a.Digest}, {Name: "falco", URL: a.URL}} {
		if _, err := PURL(bad); !errors.Is(err, ErrInvalidArtifact) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
