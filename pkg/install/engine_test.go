package install_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/install"
)

func TestReadEngine(t *testing.T) {
	docs := map[string]string{
		"/versions": `{"engine_version":"31","engine_version_semver":"0.41.0","plugin_api_version":"3.7.0","default_driver_version":"8.0.0+driver","falco_version":"0.41.0","n":26,"ok":true,"none":null,"empty":""}`,
		"/bad":      `<html>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(doc))
	}))
	defer srv.Close()
	ctx := context.Background()

	got, err := install.ReadEngine(ctx, srv.Client(), srv.URL+"/versions")
	if err != nil {
		t.Fatal(err)
	}
	want := install.Engine{"engine_version": "31", "engine_version_semver": "0.41.0", "plugin_api_version": "3.7.0",
		"default_driver_version": "8.0.0+driver", "falco_version": "0.41.0", "n": "26"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadEngine() = %v, want %v", got, want)
	}

	if _, err := install.ReadEngine(ctx, srv.Client(), srv.URL+"/bad"); err == nil || !strings.Contains(err.Error(), "reading engine versions from "+srv.URL+"/bad") {
		t.Errorf("not JSON: %v", err)
	}
	if _, err := install.ReadEngine(ctx, srv.Client(), srv.URL+"/missing"); !errors.Is(err, errdef.ErrNotFound) || !strings.HasPrefix(err.Error(), "reading engine versions: ") {
		t.Errorf("404: %v, want a not-found", err)
	}
}

func TestCheckEngineVersion(t *testing.T) {
	for _, v := range []string{"0.41.0", "3.7.0", "31", "1.2.3-rc.1"} {
		if err := install.CheckEngineVersion(v); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	for _, v := range []string{"abc", "1.x.y", ""} {
		if err := install.CheckEngineVersion(v); !errors.Is(err, errdef.ErrInvalid) {
			t.Errorf("%q: %v, want an invalid version", v, err)
		}
	}
}
