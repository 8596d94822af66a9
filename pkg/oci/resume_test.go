package oci_test

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
	"github.com/ferryhq/ferry/pkg/oci"
)

// TestResumeAfterDroppedConnection drops the connection half-way through a
// blob: the download resumes with a Range request, the bytes already
// received are not served again, and the digest checks the whole.
func TestResumeAfterDroppedConnection(t *testing.T) {
	ctx := context.Background()
	reg := testutil.NewRegistry(t)
	c := newClient(t, true)
	loc := oci.Location{Registry: reg.Host, Repository: "acme/assets/big"}
	data := make([]byte, 4<<20)
	_, _ = rand.Read(data)
	src := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Push(ctx, loc, oci.PushRequest{Type: oci.TypeAsset, Config: oci.Config{Version: "1.0.0"}, Files: []oci.LayerFile{{Path: src}}}); err != nil {
		t.Fatal(err)
	}
	root, _ := c.FetchRoot(ctx, loc, "1.0.0")
	art, err := c.Resolve(ctx, root, "")
	if err != nil {
		t.Fatal(err)
	}
	var served, requests atomic.Int64
	var ranged atomic.Value
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, art.Layer.Digest.String()) {
			return false
		}
		n := requests.Add(1)
		a := reg.Answer(r)
		a.WriteHeader(w)
		body := a.Body
		if n == 1 {
			half := body[:len(body)/2]
			served.Add(int64(len(half)))
			_, _ = w.Write(half)
			panic(http.ErrAbortHandler) // the connection drops
		}
		ranged.Store(r.Header.Get("Range"))
		served.Add(int64(len(body)))
		_, _ = w.Write(body)
		return true
	})
	b, err := c.OpenBlob(ctx, loc, art.Layer)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := io.Copy(io.Discard, b); err != nil {
		t.Fatalf("reading across the drop: %v", err)
	}
	if err := b.Verify(); err != nil {
		t.Fatalf("digest after resuming: %v", err)
	}
	if requests.Load() != 2 || ranged.Load() != "bytes="+itoa(art.Layer.Size/2)+"-" {
		t.Errorf("%d requests, range %q", requests.Load(), ranged.Load())
	}
	if served.Load() != art.Layer.Size {
		t.Errorf("served %d bytes for a %d-byte blob: resuming downloaded some twice", served.Load(), art.Layer.Size)
	}
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
