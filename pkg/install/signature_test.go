package install_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// A library user given a SignaturePolicy gets the CLI's policy: an entry
// with a signature block (or every artifact, with Key) is installed only
// when its signature verifies; Skip installs it with a warning; an entry
// without one is installed without a signature request.
func TestSignaturePolicy(t *testing.T) {
	f := newFixture(t)
	signed := oci.Location{Registry: f.reg.Host, Repository: "acme/rules/signed"}
	plain := oci.Location{Registry: f.reg.Host, Repository: "acme/rules/plain"}
	pushFalcoctlStyle(t, f.client, signed, oci.TypeRulesfile, "1.0.0", map[string][]byte{"": tarGz(t, map[string]string{"signed.yaml": "- rule: s\n"}, false)})
	pushFalcoctlStyle(t, f.client, plain, oci.TypeRulesfile, "1.0.0", map[string][]byte{"": tarGz(t, map[string]string{"plain.yaml": "- rule: p\n"}, false)})
	root, err := f.client.FetchRoot(context.Background(), signed, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	bundle, pub := testutil.KeyBundle(t, root.Descriptor.Digest)
	_, otherPub := testutil.KeyBundle(t, root.Descriptor.Digest)
	entries := func(key []byte) []index.Entry {
		return []index.Entry{
			{Name: "signed", Type: "rulesfile", Registry: signed.Registry, Repository: signed.Repository, Signature: &index.Signature{Cosign: &index.Cosign{Key: string(key)}}},
			{Name: "plain", Type: "rulesfile", Registry: plain.Registry, Repository: plain.Repository},
		}
	}
	installed := func(name string) bool {
		_, err := os.Stat(filepath.Join(f.dirs[oci.TypeRulesfile], name))
		return err == nil
	}
	req := install.Request{Refs: []string{"signed:1", "plain:1"}}

	// No signature yet: refused, nothing written.
	in := f.installer(entries(pub), "")
	in.Signatures = &install.SignaturePolicy{}
	if _, err := in.Install(context.Background(), req); !errors.Is(err, errdef.ErrVerification) {
		t.Fatalf("unsigned: %v, want a verification failure", err)
	}
	if installed("signed.yaml") || installed("plain.yaml") {
		t.Fatal("a refused install wrote files")
	}

	// Skip: installed, one warning, for the entry that asks for a signature.
	var warnings []string
	in.Signatures = &install.SignaturePolicy{Skip: true, Warn: func(msg string) { warnings = append(warnings, msg) }}
	if _, err := in.Install(context.Background(), install.Request{Refs: []string{"signed:1"}, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "installing signed 1.0.0 ("+root.Descriptor.Digest.String()+") WITHOUT verifying") {
		t.Fatalf("warnings %q", warnings)
	}

	// Signed: installed; the plain entry asks for no signature.
	testutil.AttachBundle(t, signed.Registry, signed.Repository, "1.0.0", bundle)
	in.Signatures = &install.SignaturePolicy{}
	f.reg.Reset()
	if _, err := in.Install(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if !installed("signed.yaml") || !installed("plain.yaml") {
		t.Fatal("a verified install is missing files")
	}
	if n := f.reg.Count("", "acme/rules/plain/referrers") + f.reg.Count("", "acme/rules/plain/manifests/sha256-"); n != 0 {
		t.Errorf("the unsigned entry cost %d signature requests", n)
	}
	if n := f.reg.Count("", "acme/rules/signed/referrers") + f.reg.Count("", "acme/rules/signed/manifests/sha256-"); n == 0 {
		t.Error("the signed entry was installed without a signature request")
	}

	// Key: every artifact must verify with it, whatever its entry says;
	// the plain one has no signature.
	in = f.installer(entries(otherPub), "")
	in.Store = &install.Store{StateDir: t.TempDir()}
	in.Dirs = map[string]string{oci.TypeRulesfile: t.TempDir()}
	in.Signatures = &install.SignaturePolicy{Key: string(pub)}
	if _, err := in.Install(context.Background(), install.Request{Refs: []string{"signed:1"}}); err != nil {
		t.Fatalf("--key overrides the entry's key: %v", err)
	}
	if _, err := in.Install(context.Background(), install.Request{Refs: []string{"plain:1"}}); !errors.Is(err, errdef.ErrVerification) {
		t.Fatalf("unsigned with Key: %v, want a verification failure", err)
	}

	// A key that cannot be read is a bad request (exit 2 in the CLI).
	in.Store = &install.Store{StateDir: t.TempDir()}
	in.Signatures = &install.SignaturePolicy{Key: filepath.Join(t.TempDir(), "missing.pem")}
	if _, err := in.Install(context.Background(), install.Request{Refs: []string{"signed:1"}}); !errors.Is(err, errdef.ErrInvalid) || !strings.Contains(err.Error(), "reading the public key") {
		t.Fatalf("missing key: %v", err)
	}
}
