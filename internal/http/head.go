package http

import (
	"io"
	nethttp "net/http"
)

// headFallback repeats a HEAD that a server (often a CDN in front of a
// registry) refuses with 405 or 501 as a GET, and answers with the GET's
// status and headers and no body. Registries put what a HEAD is for
// (Docker-Content-Digest, Content-Type, Content-Length) on GET answers too.
type headFallback struct {
	next nethttp.RoundTripper
}

func (h *headFallback) RoundTrip(req *nethttp.Request) (*nethttp.Response, error) {
	resp, err := h.next.RoundTrip(req)
	if err != nil || req.Method != nethttp.MethodHead ||
		(resp.StatusCode != nethttp.StatusMethodNotAllowed && resp.StatusCode != nethttp.StatusNotImplemented) {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	get := req.Clone(req.Context())
	get.Method = nethttp.MethodGet
	get.Body, get.GetBody, get.ContentLength = nil, nil, 0
	gresp, err := h.next.RoundTrip(get)
	if err != nil {
		return nil, err
	}
	// The body may be a large blob: stop it, do not read it.
	gresp.Body.Close()
	gresp.Body = nethttp.NoBody
	gresp.Request = req
	return gresp, nil
}
