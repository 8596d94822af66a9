package install_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

func TestFollow(t *testing.T) {
	fx := newFixture(t)
	hc, _ := ferryhttp.New(ferryhttp.Options{NoRetry: true})
	fx.client = oci.NewClient(oci.ClientOptions{HTTP: hc, PlainHTTP: func(string) bool { return true }})
	loc := oci.Location{Registry: fx.reg.Host, Repository: "acme/rules/my-rules"}
	push := func(version, engine string) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "my_rules.yaml")
		if err := os.WriteFile(p, []byte("# "+version+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := oci.Config{Name: "rules", Version: version, Requirements: []oci.Requirement{{Name: "engine_version_semver", Version: engine}}}
		if _, err := fx.client.Push(context.Background(), loc, oci.PushRequest{Type: oci.TypeRulesfile, Config: cfg, Files: []oci.LayerFile{{Path: p}}}); err != nil {
			t.Fatal(err)
		}
	}
	installed := func() string {
		data, _ := os.ReadFile(filepath.Join(fx.dirs[oci.TypeRulesfile], "my_rules.yaml"))
		return strings.TrimSpace(strings.TrimPrefix(string(data), "# "))
	}
	push("1.0.0", "0.30.0")
	in := fx.installer([]index.Entry{{Name: "rules", Type: "rulesfile", Registry: loc.Registry, Repository: loc.Repository}}, "linux/amd64")
	in.ResolveDeps = true

	checks := make(chan install.FollowCheck)
	proceed := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &install.Follower{
		Installer: in, Request: install.Request{Refs: []string{"rules:1.x"}, Engine: install.Engine{"engine_version_semver": "0.40.0"}}, Schedule: install.Every(10 * time.Millisecond), Jitter: 5 * time.Millisecond,
		OnCheck: func(_ context.Context, c install.FollowCheck) {
			checks <- c
			<-proceed
		},
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	next := func() install.FollowCheck {
		t.Helper()
		select {
		case c := <-checks:
			return c
		case <-time.After(20 * time.Second):
			t.Fatal("no check")
			return install.FollowCheck{}
		}
	}

	c := next()
	if c.Err != nil || len(c.Updated) != 1 || installed() != "1.0.0" {
		t.Fatalf("first check: %+v, installed %q", c, installed())
	}
	fx.reg.Reset()
	proceed <- struct{}{}

	// Nothing new: one tag listing, nothing else (the installed version's
	// tag is a version tag: its manifest is the recorded one).
	c = next()
	if c.Err != nil || len(c.Updated) != 0 {
		t.Fatalf("idle check: %+v", c)
	}
	if tags, manifests, blobs := fx.reg.Count("", "/tags/list"), fx.reg.Count("", "/manifests/"), fx.reg.Count("", "/blobs/"); tags != 1 || manifests != 0 || blobs != 0 || len(fx.reg.Requests()) != 1 {
		t.Errorf("idle check cost %d tag listings, %d manifest and %d blob requests: %v", tags, manifests, blobs, fx.reg.Requests())
	}
	push("1.1.0", "0.35.0")
	proceed <- struct{}{}

	c = next()
	if c.Err != nil || len(c.Updated) != 1 || c.Updated[0].Version != "1.1.0" || installed() != "1.1.0" {
		t.Fatalf("update check: %+v, installed %q", c, installed())
	}
	// A newer version the engine cannot run is skipped.
	push("1.2.0", "0.50.0")
	proceed <- struct{}{}

	c = next()
	if c.Err != nil || len(c.Updated) != 0 || installed() != "1.1.0" {
		t.Fatalf("requirement check: %+v, installed %q", c, installed())
	}
	// A registry outage fails a check, not the follower.
	fx.reg.SetFault(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	proceed <- struct{}{}

	c = next()
	if c.Err == nil || installed() != "1.1.0" {
		t.Fatalf("outage check: %+v", c)
	}
	fx.reg.SetFault(nil)
	push("1.3.0", "0.39.0")
	proceed <- struct{}{}

	c = next()
	if c.Err != nil || len(c.Updated) != 1 || installed() != "1.3.0" {
		t.Fatalf("after the outage: %+v, installed %q", c, installed())
	}
	cancel()
	proceed <- struct{}{}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestFollowStopsDuringJitter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &install.Follower{Installer: &install.Installer{}, Request: install.Request{Refs: []string{"x"}}, Schedule: install.Every(time.Hour), Jitter: time.Hour,
		OnCheck: func(context.Context, install.FollowCheck) { t.Error("checked") }}
	time.AfterFunc(20*time.Millisecond, cancel)
	if err := f.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestCron(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, time.Local)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct{ spec, from, want string }{
		{"*/15 * * * *", "2025-03-04 10:07", "2025-03-04 10:15"},
		{"*/15 * * * *", "2025-03-04 10:45", "2025-03-04 11:00"},
		{"0 2 * * *", "2025-03-04 10:07", "2025-03-05 02:00"},
		{"30 9 * * 1-5", "2025-03-07 10:00", "2025-03-10 09:30"}, // Friday → Monday
		{"0 0 1 * *", "2025-12-15 00:00", "2026-01-01 00:00"},
		{"0 0 * * 7", "2025-03-04 00:00", "2025-03-09 00:00"}, // Sunday as 7
		{"5,10 3-4 * * *", "2025-03-04 03:10", "2025-03-04 04:05"},
	} {
		cr, err := install.ParseCron(c.spec)
		if err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		if got := cr.Next(at(c.from)); !got.Equal(at(c.want)) {
			t.Errorf("%s after %s: %s, want %s", c.spec, c.from, got.Format("2006-01-02 15:04"), c.want)
		}
	}
	for _, bad := range []string{"", "* * * *", "60 * * * *", "* 24 * * *", "*/0 * * * *", "a * * * *", "5-1 * * * *"} {
		if _, err := install.ParseCron(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
