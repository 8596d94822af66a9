package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/cli"
	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/index"
)

// roundTripper answers every request from a function, with no network.
type roundTripper func(*http.Request) *http.Response

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return rt(req), nil }

// runWith runs a command line on a Factory that setup adjusted (as gh's
// tests swap the Factory's HTTP client) before the command tree is built.
func runWith(t *testing.T, env map[string]string, setup func(*cmdutil.Factory), args ...string) run {
	t.Helper()
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory("test")
	f.IO = cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	f.Getenv = func(k string) string { return env[k] }
	setup(f)
	code := cli.Run(context.Background(), f, args)
	return run{out.String(), errOut.String(), code}
}

const swapIndex = "- name: swapped-rules\n  type: rulesfile\n  registry: registry.example.test\n  repository: acme/rules\n  description: served by a swapped HTTP client\n"

func TestFactoryClientsCanBeSwapped(t *testing.T) {
	env, dir := userEnv(t)
	env["FERRY_CONFIG"] = filepath.Join(dir, "config.yaml")
	var asked []string
	client := func() (*http.Client, error) {
		return &http.Client{Transport: roundTripper(func(req *http.Request) *http.Response {
			asked = append(asked, req.URL.String())
			if req.URL.Path != "/index.yaml" {
				return &http.Response{StatusCode: http.StatusNotFound, Body: io.NopCloser(strings.NewReader("")), Request: req}
			}
			return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(swapIndex)), Request: req, ContentLength: int64(len(swapIndex))}
		})}, nil
	}
	r := runWith(t, env, func(f *cmdutil.Factory) { f.HTTPClientFunc = client }, "index", "add", "remote", "https://index.example.test/index.yaml")
	if r.code != 0 || !strings.Contains(r.out, "1 artifact") {
		t.Fatalf("index add through the swapped client: exit %d: %s%s", r.code, r.out, r.err)
	}
	if len(asked) != 1 || asked[0] != "https://index.example.test/index.yaml" {
		t.Errorf("the swapped client was asked %v", asked)
	}
	// The index was cached: list reads it with no client at all.
	r = runWith(t, env, func(f *cmdutil.Factory) {}, "artifact", "list", "--index", "remote", "-o", "json")
	var entries []map[string]any
	if err := json.Unmarshal([]byte(r.out), &entries); err != nil || r.code != 0 || len(entries) != 1 || entries[0]["name"] != "swapped-rules" {
		t.Errorf("list of the added index: exit %d, %v: %s%s", r.code, err, r.out, r.err)
	}

	// Indexes swapped: search finds what the swapped set holds, and only that.
	idx, err := index.Parse("mine", []byte(strings.ReplaceAll(swapIndex, "swapped-rules", "only-here")))
	if err != nil {
		t.Fatal(err)
	}
	r = runWith(t, env, func(f *cmdutil.Factory) {
		f.IndexesFunc = func(context.Context) (*index.Set, error) { return index.NewSet(idx), nil }
	}, "artifact", "search", "only-here", "-o", "json")
	if err := json.Unmarshal([]byte(r.out), &entries); err != nil || r.code != 0 || len(entries) != 1 || entries[0]["index"] != "mine" {
		t.Errorf("search of the swapped indexes: exit %d, %v: %s%s", r.code, err, r.out, r.err)
	}
	r = runWith(t, env, func(f *cmdutil.Factory) {
		f.IndexesFunc = func(context.Context) (*index.Set, error) { return index.NewSet(idx), nil }
	}, "artifact", "search", "swapped-rules")
	if r.code != 3 {
		t.Errorf("search of what the swapped set lacks: exit %d, want 3: %s%s", r.code, r.out, r.err)
	}
}
