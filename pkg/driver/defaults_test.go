package driver

import (
	"context"
	"path/filepath"
	"testing"
)

// A download is reported as one, with its size; the same driver from the
// cache, or in a dry run, is not.
func TestInstallReportsDownloads(t *testing.T) {
	r := newRepo(t)
	f := newFixture(t, r)
	r.files[koPath] = f.body

	dry := f.req
	dry.DryRun = true
	res, err := f.in.Install(context.Background(), dry)
	if err != nil || res.Downloaded || res.Bytes != 0 {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	res, err = f.in.Install(context.Background(), f.req)
	if err != nil || !res.Downloaded || res.Bytes != int64(len(f.body)) {
		t.Fatalf("download: downloaded=%v bytes=%d (want %d), %v", res.Downloaded, res.Bytes, len(f.body), err)
	}
	res, err = f.in.Install(context.Background(), f.req)
	if err != nil || res.Downloaded || !res.Cached {
		t.Fatalf("from the cache: downloaded=%v cached=%v, %v", res.Downloaded, res.Cached, err)
	}
}

// Without a cache directory, Install uses Falco's $HOME/.falco.
func TestDefaultCacheDir(t *testing.T) {
	home := t.TempDir()
	if got, err := DefaultCacheDir(func(k string) string { return map[string]string{"HOME": home}[k] }); err != nil || got != filepath.Join(home, ".falco") {
		t.Errorf("DefaultCacheDir() = %q, %v", got, err)
	}
	t.Setenv("HOME", home)
	r := newRepo(t)
	f := newFixture(t, r)
	r.files[koPath] = f.body
	req := f.req
	req.CacheDir = ""
	res, err := f.in.Install(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, ".falco", "8.0.0+driver", "x86_64", koFile); res.CachePath != want {
		t.Errorf("cache path %s, want %s", res.CachePath, want)
	}
	if got := HostInstallDir("/host"); got != "/host/root/.falco" {
		t.Errorf("HostInstallDir(/host) = %s", got)
	}
}
