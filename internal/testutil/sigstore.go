package testutil

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"google.golang.org/protobuf/encoding/protojson"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote"
)

// Sigstore is a private Sigstore deployment for tests: a Fulcio CA, a
// Rekor log and a timestamp authority (sigstore-go's VirtualSigstore),
// signing OCI artifacts the way cosign does.
type Sigstore struct {
	t  testing.TB
	vs *ca.VirtualSigstore
}

// NewSigstore starts a fresh deployment with its own keys.
func NewSigstore(t testing.TB) *Sigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	return &Sigstore{t: t, vs: vs}
}

// TrustedRoot returns the deployment's trusted_root.json. With ctLogs the
// root lists the CT log, so certificates (which carry no SCT here) fail.
func (s *Sigstore) TrustedRoot(ctLogs bool) []byte {
	s.t.Helper()
	var ct map[string]*root.TransparencyLog
	if ctLogs {
		ct = rawLogIDs(s.vs.CTLogs())
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, s.vs.FulcioCertificateAuthorities(), ct, s.vs.TimestampingAuthorities(), rawLogIDs(s.vs.RekorLogs()))
	if err != nil {
		s.t.Fatal(err)
	}
	data, err := tr.MarshalJSON()
	if err != nil {
		s.t.Fatal(err)
	}
	return data
}

// WriteTrustedRoot writes TrustedRoot(false) to path.
func (s *Sigstore) WriteTrustedRoot(path string) string {
	s.t.Helper()
	if err := os.WriteFile(path, s.TrustedRoot(false), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return path
}

// VirtualSigstore keys its logs by the hex log id but stores the hex text
// as the id; a trusted root needs the raw id.
func rawLogIDs(logs map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
	out := map[string]*root.TransparencyLog{}
	for k, l := range logs {
		raw, err := hex.DecodeString(k)
		if err != nil {
			panic(err)
		}
		c := *l
		c.ID = raw
		out[k] = &c
	}
	return out
}

// Bundle signs d as identity (the certificate's email) vouched for by
// issuer, as `cosign sign --new-bundle-format` does: an in-toto statement
// with cosign's sign predicate naming d, in a DSSE envelope, with the
// Fulcio certificate, a Rekor entry (inclusion proof and signed entry
// timestamp) and an RFC 3161 timestamp. It returns the bundle's JSON.
func (s *Sigstore) Bundle(d digest.Digest, identity, issuer string) []byte {
	s.t.Helper()
	ent, err := s.vs.AttestAtTime(identity, issuer, cosignStatement(d), time.Now().Add(5*time.Minute), true)
	if err != nil {
		s.t.Fatal(err)
	}
	vc, _ := ent.VerificationContent()
	sc, _ := ent.SignatureContent()
	env := sc.EnvelopeContent().RawEnvelope()
	entries, _ := ent.TlogEntries()
	tle := s.withPromise(entries[0])
	tss, _ := ent.Timestamps()
	var rfc []*protocommon.RFC3161SignedTimestamp
	for _, ts := range tss {
		rfc = append(rfc, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts})
	}
	var sigs []*protodsse.Signature
	for _, sg := range env.Signatures {
		raw, err := base64.StdEncoding.DecodeString(sg.Sig)
		if err != nil {
			s.t.Fatal(err)
		}
		sigs = append(sigs, &protodsse.Signature{Sig: raw, Keyid: sg.KeyID})
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		s.t.Fatal(err)
	}
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
			TlogEntries:               []*protorekor.TransparencyLogEntry{tle},
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: rfc},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType, Signatures: sigs}},
	}
	if _, err := bundle.NewBundle(pb); err != nil {
		s.t.Fatalf("the test bundle is invalid: %v", err)
	}
	data, err := protojson.Marshal(pb)
	if err != nil {
		s.t.Fatal(err)
	}
	return data
}

// KeyBundle signs d with a fresh key, as `cosign sign --key
// --new-bundle-format` does (no certificate, no transparency log), and
// returns the bundle's JSON and the public key (PEM).
func KeyBundle(t testing.TB, d digest.Digest) ([]byte, []byte) {
	t.Helper()
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := sign.Bundle(&sign.DSSEData{Data: cosignStatement(d), PayloadType: "application/vnd.in-toto+json"}, kp, sign.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := kp.GetPublicKeyPem()
	if err != nil {
		t.Fatal(err)
	}
	return data, []byte(pem)
}

// cosignStatement is the in-toto statement cosign signs for an image:
// its sign predicate with d as the subject.
func cosignStatement(d digest.Digest) []byte {
	statement, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{{"name": "artifact", "digest": map[string]string{d.Algorithm().String(): d.Encoded()}}},
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"predicate":     map[string]any{},
	})
	return statement
}

// withPromise returns e's proto with the inclusion promise (the log's
// signed entry timestamp) VirtualSigstore leaves out of it.
func (s *Sigstore) withPromise(e *tlog.Entry) *protorekor.TransparencyLogEntry {
	s.t.Helper()
	tle := e.TransparencyLogEntry()
	set, err := s.vs.RekorSignPayload(tlog.RekorPayload{
		Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody), IntegratedTime: tle.IntegratedTime,
		LogIndex: tle.LogIndex, LogID: hex.EncodeToString(tle.LogId.KeyId),
	})
	if err != nil {
		s.t.Fatal(err)
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	return tle
}

// AttachBundle pushes a Sigstore bundle as an OCI referrer of the manifest
// tagged (or digested) ref in host/repo, as cosign stores it.
func AttachBundle(t testing.TB, host, repo, ref string, bundleJSON []byte) {
	t.Helper()
	ctx := context.Background()
	r, subject := remoteRepo(t, host, repo, ref)
	store := memory.New()
	layer := ocispec.Descriptor{MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json", Digest: digest.FromBytes(bundleJSON), Size: int64(len(bundleJSON))}
	if err := store.Push(ctx, layer, bytes.NewReader(bundleJSON)); err != nil {
		t.Fatal(err)
	}
	desc, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, "application/vnd.dev.sigstore.bundle.v0.3+json", oras.PackManifestOptions{
		Subject: &subject, Layers: []ocispec.Descriptor{layer},
		ManifestAnnotations: map[string]string{"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := oras.CopyGraph(ctx, store, r, desc, oras.DefaultCopyGraphOptions); err != nil {
		t.Fatal(err)
	}
}

// SignLegacy pushes a keyless signature of ref in cosign's legacy layout:
// under the sha256-<digest>.sig tag, a simple-signing payload whose layer
// carries the signature, the Fulcio certificate and chain, and the Rekor
// bundle of its hashedrekord entry as annotations.
func (s *Sigstore) SignLegacy(host, repo, ref, identity, issuer string) {
	s.t.Helper()
	ctx := context.Background()
	r, subject := remoteRepo(s.t, host, repo, ref)
	payload := []byte(fmt.Sprintf(`{"critical":{"identity":{"docker-reference":"%s/%s"},"image":{"docker-manifest-digest":"%s"},"type":"cosign container image signature"},"optional":null}`, host, repo, subject.Digest))
	ent, err := s.vs.Sign(identity, issuer, payload)
	if err != nil {
		s.t.Fatal(err)
	}
	vc, _ := ent.VerificationContent()
	sc, _ := ent.SignatureContent()
	entries, _ := ent.TlogEntries()
	tle := entries[0].TransparencyLogEntry()
	set, err := s.vs.RekorSignPayload(tlog.RekorPayload{
		Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody), IntegratedTime: tle.IntegratedTime,
		LogIndex: tle.LogIndex, LogID: hex.EncodeToString(tle.LogId.KeyId),
	})
	if err != nil {
		s.t.Fatal(err)
	}
	rekorBundle, _ := json.Marshal(map[string]any{
		"SignedEntryTimestamp": set,
		"Payload": map[string]any{
			"body": base64.StdEncoding.EncodeToString(tle.CanonicalizedBody), "integratedTime": tle.IntegratedTime,
			"logIndex": tle.LogIndex, "logID": hex.EncodeToString(tle.LogId.KeyId),
		},
	})
	certPEM, _ := cryptoutils.MarshalCertificateToPEM(vc.Certificate())
	var chain []byte
	for _, c := range s.vs.FulcioCertificateAuthorities() {
		fca := c.(*root.FulcioCertificateAuthority)
		for _, ic := range fca.Intermediates {
			p, _ := cryptoutils.MarshalCertificateToPEM(ic)
			chain = append(chain, p...)
		}
		p, _ := cryptoutils.MarshalCertificateToPEM(fca.Root)
		chain = append(chain, p...)
	}
	sum := sha256.Sum256(payload)
	store := memory.New()
	layer := ocispec.Descriptor{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Digest: digest.NewDigestFromBytes(digest.SHA256, sum[:]), Size: int64(len(payload)),
		Annotations: map[string]string{
			"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sc.Signature()),
			"dev.sigstore.cosign/certificate":    string(certPEM),
			"dev.sigstore.cosign/chain":          string(chain),
			"dev.sigstore.cosign/bundle":         string(rekorBundle),
		}}
	if err := store.Push(ctx, layer, bytes.NewReader(payload)); err != nil {
		s.t.Fatal(err)
	}
	desc, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_0, "application/vnd.dev.cosign.simplesigning.v1+json", oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		s.t.Fatal(err)
	}
	tag := fmt.Sprintf("%s-%s.sig", subject.Digest.Algorithm(), subject.Digest.Encoded())
	if err := store.Tag(ctx, desc, tag); err != nil {
		s.t.Fatal(err)
	}
	if _, err := oras.Copy(ctx, store, tag, r, tag, oras.DefaultCopyOptions); err != nil {
		s.t.Fatal(err)
	}
}

func remoteRepo(t testing.TB, host, repo, ref string) (*remote.Repository, ocispec.Descriptor) {
	t.Helper()
	r, err := remote.NewRepository(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	desc, err := r.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatalf("resolving %s/%s:%s: %v", host, repo, ref, err)
	}
	return r, desc
}
