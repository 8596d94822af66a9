package http

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ferryhq/ferry/pkg/errdef"
)

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestDownload(t *testing.T) {
	body := []byte("driver bytes")
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/ok", func(w nethttp.ResponseWriter, _ *nethttp.Request) { _, _ = w.Write(body) })
	mux.HandleFunc("/gone", func(w nethttp.ResponseWriter, _ *nethttp.Request) { w.WriteHeader(nethttp.StatusGone) })
	mux.HandleFunc("/500", func(w nethttp.ResponseWriter, _ *nethttp.Request) { w.WriteHeader(500) })
	mux.HandleFunc("/403", func(w nethttp.ResponseWriter, _ *nethttp.Request) { w.WriteHeader(403) })
	mux.HandleFunc("/chunked", func(w nethttp.ResponseWriter, _ *nethttp.Request) {
		// No Content-Length: the limit must be enforced while reading.
		w.(nethttp.Flusher).Flush()
		_, _ = w.Write(bytes.Repeat([]byte("x"), 100))
	})
	mux.HandleFunc("/cut", func(w nethttp.ResponseWriter, _ *nethttp.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write([]byte("short"))
		panic(nethttp.ErrAbortHandler)
	})
	mux.HandleFunc("/header", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.Header.Get("X-Token") != "t" {
			w.WriteHeader(401)
			return
		}
		_, _ = w.Write(body)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	hc, err := New(Options{NoRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	closed := httptest.NewServer(mux)
	closed.Close()

	cases := []struct {
		name    string
		url     string
		opts    DownloadOptions
		want    error
		wantErr bool
	}{
		{name: "ok", url: srv.URL + "/ok"},
		{name: "ok with digest", url: srv.URL + "/ok", opts: DownloadOptions{SHA256: "sha256:" + sum(body)}},
		{name: "digest mismatch", url: srv.URL + "/ok", opts: DownloadOptions{SHA256: sum([]byte("other"))}, want: ErrDigestMismatch},
		{name: "bad digest", url: srv.URL + "/ok", opts: DownloadOptions{SHA256: "abc"}, wantErr: true},
		{name: "404", url: srv.URL + "/nope", want: ErrNotFound},
		{name: "410", url: srv.URL + "/gone", want: ErrNotFound},
		{name: "500", url: srv.URL + "/500", want: ErrServer},
		{name: "401", url: srv.URL + "/header", want: ErrUnauthorized},
		{name: "403", url: srv.URL + "/403", want: ErrUnauthorized},
		{name: "network", url: closed.URL + "/ok", want: ErrNetwork},
		{name: "too large by length", url: srv.URL + "/ok", opts: DownloadOptions{Limit: 3}, want: ErrTooLarge},
		{name: "too large while reading", url: srv.URL + "/chunked", opts: DownloadOptions{Limit: 10}, want: ErrTooLarge},
		{name: "body cut", url: srv.URL + "/cut", want: ErrNetwork},
		{name: "header", url: srv.URL + "/header", opts: DownloadOptions{Header: nethttp.Header{"X-Token": {"t"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			got, err := Download(context.Background(), hc, c.url, &buf, c.opts)
			switch {
			case c.want != nil:
				if !errors.Is(err, c.want) {
					t.Fatalf("err = %v, want %v", err, c.want)
				}
				for _, other := range []error{ErrNotFound, ErrUnauthorized, ErrServer, ErrNetwork, ErrTooLarge, ErrDigestMismatch} {
					if other != c.want && errors.Is(err, other) {
						t.Errorf("err %v also matches %v", err, other)
					}
				}
			case c.wantErr:
				if err == nil {
					t.Fatal("no error")
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if buf.String() != string(body) || got.Size != int64(len(body)) || got.SHA256 != sum(body) {
					t.Errorf("got %+v, body %q", got, buf.String())
				}
			}
		})
	}

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Download(ctx, hc, srv.URL+"/ok", &bytes.Buffer{}, DownloadOptions{})
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrNetwork) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestDownloadFile(t *testing.T) {
	body := []byte("probe")
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(500)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	hc, _ := New(Options{NoRetry: true})
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "f.o")

	if _, err := DownloadFile(context.Background(), hc, srv.URL+"/bad", path, 0o644, DownloadOptions{}); !errors.Is(err, ErrServer) {
		t.Fatalf("err = %v", err)
	}
	refuse := errors.New("refused")
	_, err := DownloadFile(context.Background(), hc, srv.URL+"/f", path, 0o644, DownloadOptions{Check: func(d Downloaded) error {
		if d.SHA256 != sum(body) {
			t.Errorf("check got %+v", d)
		}
		return refuse
	}})
	if !errors.Is(err, refuse) {
		t.Fatalf("err = %v", err)
	}
	if _, err := DownloadFile(context.Background(), hc, srv.URL+"/f", path, 0o644, DownloadOptions{SHA256: sum([]byte("x"))}); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 0 {
		t.Fatalf("failed downloads left files: %v", entries)
	}
	got, err := DownloadFile(context.Background(), hc, srv.URL+"/f", path, 0o640, DownloadOptions{SHA256: sum(body)})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(data) != string(body) || got.Size != 5 || fi.Mode().Perm() != 0o640 {
		t.Errorf("file %q mode %v, got %+v", data, fi.Mode(), got)
	}
}

func TestParseSHA256Sum(t *testing.T) {
	d := sum([]byte("x"))
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{d, d, true},
		{d + "\n", d, true},
		{d + "  falco.ko\n", d, true},
		{"sha256:" + d, d, true},
		{"ZZ", "", false},
		{"", "", false},
	} {
		got, err := ParseSHA256Sum([]byte(c.in))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseSHA256Sum(%q) = %q, %v", c.in, got, err)
		}
	}
}

// A status answer has the kind of its code, whoever reads it (Download
// for artifacts and drivers, ReadURL for indexes and checksums), and its
// message names the URL and the status.
func TestStatusErrorKinds(t *testing.T) {
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		code, _ := strconv.Atoi(r.URL.Path[1:])
		w.WriteHeader(code)
	}))
	defer srv.Close()
	hc, err := New(Options{NoRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	kinds := []error{errdef.ErrInvalid, errdef.ErrNotFound, errdef.ErrUnauthorized, errdef.ErrVerification}
	for _, c := range []struct {
		code int
		kind error // nil: none
	}{
		{401, errdef.ErrUnauthorized}, {403, errdef.ErrUnauthorized},
		{404, errdef.ErrNotFound}, {410, errdef.ErrNotFound},
		{400, nil}, {500, nil}, {503, nil},
	} {
		u := srv.URL + "/" + strconv.Itoa(c.code)
		_, derr := Download(context.Background(), hc, u, &bytes.Buffer{}, DownloadOptions{})
		_, rerr := ReadURL(context.Background(), hc, u, 100)
		for _, err := range []error{derr, rerr} {
			want := "GET " + u + ": " + strconv.Itoa(c.code) + " " + nethttp.StatusText(c.code)
			if err == nil || err.Error() != want {
				t.Errorf("%d: err = %v, want %q", c.code, err, want)
			}
			for _, k := range kinds {
				if errors.Is(err, k) != (k == c.kind) {
					t.Errorf("%d: errors.Is(%v, %v) = %v", c.code, err, k, k != c.kind)
				}
			}
		}
	}
}

// A body over the limit is a *TooLargeError saying how large it is when
// the server said so.
func TestDownloadTooLarge(t *testing.T) {
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/sized", func(w nethttp.ResponseWriter, _ *nethttp.Request) { _, _ = w.Write(make([]byte, 100)) })
	mux.HandleFunc("/chunked", func(w nethttp.ResponseWriter, _ *nethttp.Request) {
		w.(nethttp.Flusher).Flush()
		_, _ = w.Write(make([]byte, 100))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	hc, err := New(Options{NoRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		size int64
		msg  string
	}{
		{"/sized", 100, ": too large: 100 bytes, the limit is 10"},
		{"/chunked", -1, ": too large: more than 10 bytes"},
	} {
		_, err := Download(context.Background(), hc, srv.URL+c.path, &bytes.Buffer{}, DownloadOptions{Limit: 10})
		var tl *TooLargeError
		if !errors.As(err, &tl) || !errors.Is(err, ErrTooLarge) || tl.URL != srv.URL+c.path || tl.Size != c.size || tl.Limit != 10 ||
			err.Error() != "GET "+srv.URL+c.path+c.msg {
			t.Errorf("%s: err = %#v (%v)", c.path, err, err)
		}
	}
}
