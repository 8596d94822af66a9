package http

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckIndexBackend(t *testing.T) {
	for _, c := range []struct {
		url, backend string
		ok           bool
		unsupported  bool
		mentions     string
	}{
		{"https://example.com/index.yaml", "", true, false, ""},
		{"http://example.com/index.yaml", "HTTP", true, false, ""},
		{"https://example.com/index.yaml", "http", true, false, ""},
		{"file:///srv/index.yaml", "file", true, false, ""},
		{"/srv/index.yaml", "File", true, false, ""},
		{"./index.yaml", "", true, false, ""},
		{"/srv/index.yaml", "https", false, false, "https://"},
		{"https://example.com/index.yaml", "file", false, false, "file://"},
		{"gs://bucket/index.yaml", "", false, true, `"gcs"`},
		{"https://storage.googleapis.com/b/index.yaml", "gcs", false, true, `"gcs"`},
		{"s3://bucket/index.yaml", "", false, true, `"s3"`},
		{"s3://bucket/index.yaml", "S3", false, true, `"S3"`},
		{"https://example.com/index.yaml", "ftp", false, true, "http, https, file, gcs, s3"},
	} {
		err := CheckIndexBackend(c.url, c.backend)
		if (err == nil) != c.ok || errors.Is(err, ErrUnsupportedBackend) != c.unsupported || (err != nil && !strings.Contains(err.Error(), c.mentions)) {
			t.Errorf("CheckIndexBackend(%q, %q) = %v", c.url, c.backend, err)
		}
	}
}
