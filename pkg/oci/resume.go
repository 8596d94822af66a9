package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// maxResumes bounds how often one blob download is resumed.
const maxResumes = 3

// resumingReader reads a blob from a registry and, when the connection
// breaks before the end, asks for the rest with an HTTP Range request and
// goes on from where it stopped: bytes already received are not fetched
// again. The caller's digest check covers the whole stream.
type resumingReader struct {
	ctx     context.Context
	c       *Client
	loc     Location
	desc    ocispec.Descriptor
	rc      io.ReadCloser
	off     int64
	resumes int
}

func (r *resumingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.off += int64(n)
	if err == nil || err == io.EOF || r.off >= r.desc.Size || r.resumes >= maxResumes || r.ctx.Err() != nil {
		return n, err
	}
	r.resumes++
	_ = r.rc.Close()
	rc, rerr := r.c.rangeGet(r.ctx, r.loc, r.desc, r.off)
	if rerr != nil {
		r.rc = io.NopCloser(strings.NewReader(""))
		return n, fmt.Errorf("%w (resuming at byte %d: %w)", err, r.off, rerr)
	}
	r.rc = rc
	if n > 0 {
		return n, nil
	}
	return r.Read(p)
}

func (r *resumingReader) Close() error { return r.rc.Close() }

// rangeGet fetches a blob from byte off on. A registry that ignores Range
// answers 200 with the whole blob; the bytes before off are then skipped.
func (c *Client) rangeGet(ctx context.Context, loc Location, desc ocispec.Descriptor, off int64) (io.ReadCloser, error) {
	ref := registry.Reference{Registry: loc.Registry, Repository: loc.Repository, Reference: desc.Digest.String()}
	scheme := "https"
	if c.plainHTTP(loc.Registry) {
		scheme = "http"
	}
	url := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", scheme, ref.Host(), ref.Repository, ref.Reference)
	ctx = auth.AppendRepositoryScope(ctx, ref, auth.ActionPull)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	resp, err := c.auth.Do(req)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", off)) {
			_ = resp.Body.Close()
			return nil, fmt.Errorf("registry answered the range %q for bytes %d-", resp.Header.Get("Content-Range"), off)
		}
		return resp.Body, nil
	case http.StatusOK:
		if _, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
			resp.Body.Close()
			return nil, err
		}
		return resp.Body, nil
	default:
		resp.Body.Close()
		return nil, errors.New("resuming: " + resp.Status)
	}
}
