// Package datatest locates the real datasets for tests, like net/http/httptest
// serves HTTP for them. It imports only the standard library so that any
// package, including the dataset packages themselves, can use it in tests.
package datatest

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedData returns ../shared/data relative to the module root (the first
// directory above the working directory holding go.mod), or skips t when the
// root or the data is absent: the datasets are never copied into the repo.
func SharedData(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found above the package directory")
		}
		dir = parent
	}
	data := filepath.Join(dir, "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		t.Skipf("real data not found at %s: %v", data, err)
	}
	return data
}
