package install_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/internal/testutil"
	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

type channelFixture struct {
	*fixture
	mirror  *testutil.Registry
	httpSrv *httptest.Server
	httpBad bool
	loc     oci.Location
	layer   []byte
	digest  string // the layer's
	entry   index.Entry
}

// newChannelFixture publishes rules 1.0.0 on a primary registry, copies
// them by digest to a mirror registry, and serves the layer from an HTTP
// mirror.
func newChannelFixture(t *testing.T) *channelFixture {
	t.Helper()
	f := newFixture(t)
	hc, err := ferryhttp.New(ferryhttp.Options{NoRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	f.client = oci.NewClient(oci.ClientOptions{HTTP: hc, PlainHTTP: func(string) bool { return true }})
	cf := &channelFixture{fixture: f, mirror: testutil.NewRegistry(t)}
	cf.loc = oci.Location{Registry: f.reg.Host, Repository: "acme/rules/my-rules"}
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "my_rules.yaml")
	if err := os.WriteFile(src, []byte("- rule: good\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.Push(ctx, cf.loc, oci.PushRequest{Type: oci.TypeRulesfile, Config: oci.Config{Version: "1.0.0"}, Files: []oci.LayerFile{{Path: src}}}); err != nil {
		t.Fatal(err)
	}
	from, _ := f.client.Repository(cf.loc)
	to, _ := f.client.Repository(oci.Location{Registry: cf.mirror.Host, Repository: "mirror/my-rules"})
	if _, err := oras.Copy(ctx, from, "1.0.0", to, "1.0.0", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	root, _ := f.client.FetchRoot(ctx, cf.loc, "1.0.0")
	art, _ := f.client.Resolve(ctx, root, "")
	b, _ := f.client.OpenBlob(ctx, cf.loc, art.Layer)
	cf.layer, _ = io.ReadAll(b)
	b.Close()
	cf.digest = art.Layer.Digest.String()
	cf.httpSrv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rules/my-rules-1.0.0.tar.gz" {
			http.NotFound(w, r)
			return
		}
		data := bytes.Clone(cf.layer)
		if cf.httpBad {
			data[len(data)/2] ^= 0xff
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(cf.httpSrv.Close)
	cf.entry = index.Entry{Name: "my-rules", Type: "rulesfile", Registry: cf.loc.Registry, Repository: cf.loc.Repository,
		Mirrors: []index.Mirror{
			{Registry: cf.mirror.Host, Repository: "mirror/my-rules"},
			{URL: cf.httpSrv.URL + "/rules/{name}-{version}.{ext}"},
		}}
	return cf
}

func (cf *channelFixture) install(t *testing.T) ([]install.Result, error) {
	t.Helper()
	in := cf.installer([]index.Entry{cf.entry}, "linux/amd64")
	in.HTTP = cf.httpSrv.Client()
	return in.Install(context.Background(), install.Request{Refs: []string{"my-rules:1.x"}})
}

func (cf *channelFixture) installed(t *testing.T) string {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(cf.dirs[oci.TypeRulesfile], "my_rules.yaml"))
	return string(data)
}

// failLayer makes a registry answer status for the layer blob.
func (cf *channelFixture) failLayer(reg *testutil.Registry, status int) {
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/blobs/"+cf.digest) {
			return false
		}
		w.WriteHeader(status)
		return true
	})
}

// corruptLayer makes a registry serve the layer with one byte flipped.
func (cf *channelFixture) corruptLayer(reg *testutil.Registry) {
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/blobs/"+cf.digest) {
			return false
		}
		a := reg.Answer(r)
		a.Body[len(a.Body)/2] ^= 0xff
		a.WriteHeader(w)
		_, _ = w.Write(a.Body)
		return true
	})
}

func TestChannelsMirrorServesWhenPrimaryBlobsFail(t *testing.T) {
	cf := newChannelFixture(t)
	cf.failLayer(cf.reg, http.StatusInternalServerError)
	results, err := cf.install(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := results[0].Source; got != "oci://"+cf.mirror.Host+"/mirror/my-rules" {
		t.Errorf("served by %s, want the OCI mirror", got)
	}
	if cf.installed(t) != "- rule: good\n" {
		t.Errorf("installed %q", cf.installed(t))
	}
}

func TestChannelsPrimaryDown(t *testing.T) {
	cf := newChannelFixture(t)
	cf.reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	results, err := cf.install(t)
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Version != "1.0.0" || !strings.Contains(results[0].Source, cf.mirror.Host) {
		t.Errorf("result %+v", results[0])
	}
	if n := cf.mirror.Count("GET", "/tags/list"); n != 1 {
		t.Errorf("the mirror's tag list was read %d times", n)
	}
}

func TestChannelsHTTPMirror(t *testing.T) {
	cf := newChannelFixture(t)
	cf.corruptLayer(cf.mirror)
	cf.failLayer(cf.reg, http.StatusBadGateway)
	results, err := cf.install(t)
	if err != nil {
		t.Fatal(err)
	}
	if want := cf.httpSrv.URL + "/rules/{name}-{version}.{ext}"; results[0].Source != want {
		t.Errorf("served by %s, want the HTTP mirror", results[0].Source)
	}
	if cf.installed(t) != "- rule: good\n" {
		t.Errorf("installed %q", cf.installed(t))
	}
}

func TestChannelsAllFail(t *testing.T) {
	cf := newChannelFixture(t)
	cf.corruptLayer(cf.mirror)
	cf.failLayer(cf.reg, http.StatusBadGateway)
	cf.httpBad = true
	_, err := cf.install(t)
	var ce *install.ChannelsError
	if !errors.As(err, &ce) || len(ce.Errs) != 3 {
		t.Fatalf("want one failure per channel, got %v", err)
	}
	for _, want := range []string{cf.reg.Host, cf.mirror.Host, cf.httpSrv.URL, "502", "digest"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if !errors.Is(err, oci.ErrDigestMismatch) {
		t.Errorf("a corrupt channel is not reported as a digest mismatch: %v", err)
	}
	if _, statErr := os.Stat(filepath.Join(cf.dirs[oci.TypeRulesfile], "my_rules.yaml")); !os.IsNotExist(statErr) {
		t.Errorf("something was installed")
	}
}

func TestChannelsHostMirrorFirst(t *testing.T) {
	cf := newChannelFixture(t)
	// The mirror holds the same repository path as the primary.
	from, _ := cf.client.Repository(cf.loc)
	to, _ := cf.client.Repository(oci.Location{Registry: cf.mirror.Host, Repository: cf.loc.Repository})
	if _, err := oras.Copy(context.Background(), from, "1.0.0", to, "1.0.0", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	cf.reg.Reset()
	in := cf.installer([]index.Entry{{Name: "my-rules", Type: "rulesfile", Registry: cf.loc.Registry, Repository: cf.loc.Repository}}, "")
	in.HostMirrors = func(host string) ([]string, []string) {
		if host == cf.loc.Registry {
			return []string{cf.mirror.Host}, nil
		}
		return nil, nil
	}
	if _, err := in.Install(context.Background(), install.Request{Refs: []string{"my-rules"}}); err != nil {
		t.Fatal(err)
	}
	if n := len(cf.reg.Requests()); n != 0 {
		t.Errorf("the primary got %d requests; the configured mirror comes first", n)
	}
}

func TestChannelsDroppedConnection(t *testing.T) {
	cf := newChannelFixture(t)
	// The primary drops the connection half-way through every blob.
	cf.reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/blobs/"+cf.digest) {
			return false
		}
		a := cf.reg.Answer(r)
		a.WriteHeader(w)
		_, _ = w.Write(a.Body[:len(a.Body)/2])
		panic(http.ErrAbortHandler)
	})
	results, err := cf.install(t)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(results[0].Source, cf.mirror.Host) || cf.installed(t) != "- rule: good\n" {
		t.Errorf("after a dropped connection: %+v, %q", results[0], cf.installed(t))
	}
}

// An HTTP mirror's 404 for the layer is a not-found, as every other one.
func TestChannelsHTTPMirrorNotFoundIsTyped(t *testing.T) {
	cf := newChannelFixture(t)
	cf.failLayer(cf.reg, http.StatusBadGateway)
	cf.failLayer(cf.mirror, http.StatusBadGateway)
	cf.entry.Mirrors[1].URL = cf.httpSrv.URL + "/gone/{name}-{version}.{ext}"
	_, err := cf.install(t)
	var ce *install.ChannelsError
	if !errors.As(err, &ce) || len(ce.Errs) != 3 {
		t.Fatalf("want one failure per channel, got %v", err)
	}
	for i, cerr := range ce.Errs[:2] {
		if errors.Is(cerr, errdef.ErrNotFound) {
			t.Errorf("channel %d answered 502, yet its error is a not-found: %v", i, cerr)
		}
	}
	if last := ce.Errs[2]; !errors.Is(last, errdef.ErrNotFound) || !strings.Contains(last.Error(), "404") {
		t.Errorf("the HTTP mirror's 404 is not a not-found: %v", last)
	}
}
