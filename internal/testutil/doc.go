// Package testutil holds test helpers shared across packages: a real OCI
// registry (distribution v3 with in-memory storage) served by httptest.
package testutil
