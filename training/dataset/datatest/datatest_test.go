package datatest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSharedData(t *testing.T) {
	data := SharedData(t)
	if fi, err := os.Stat(data); err != nil || !fi.IsDir() {
		t.Fatalf("SharedData = %q is not a directory (%v)", data, err)
	}
	if filepath.Base(data) != "data" || filepath.Base(filepath.Dir(data)) != "shared" {
		t.Errorf("SharedData = %q, want .../shared/data", data)
	}
	// shared sits beside the module root, so the package dir is below shared's parent.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if top := filepath.Clean(filepath.Join(data, "..", "..")); !strings.HasPrefix(wd, top+string(filepath.Separator)) {
		t.Errorf("package dir %s is not below %s", wd, top)
	}
}
