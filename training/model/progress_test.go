package model

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProgressPrinterPlain(t *testing.T) {
	var buf bytes.Buffer
	p := ProgressPrinter(&buf, "train")
	for s := 1; s <= 25; s++ {
		p(Progress{Epoch: 2, Epochs: 3, Step: s, Steps: 25, Loss: 1.5, SamplesPerSec: 10})
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// Not a terminal: plain lines every tenth step and the epoch's last, no carriage returns.
	if len(lines) != 3 || strings.Contains(buf.String(), "\r") {
		t.Fatalf("got %q", buf.String())
	}
	if want := "train epoch 2/3 step 25/25 loss 1.5000 10.0 samples/s"; lines[2] != want {
		t.Errorf("last line %q, want %q", lines[2], want)
	}
}

func TestFindBPEDir(t *testing.T) {
	dir := t.TempDir()
	if _, err := FindBPEDir(dir); err == nil {
		t.Error("a directory without encoder.json was accepted")
	}
	if err := os.WriteFile(filepath.Join(dir, EncoderFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := FindBPEDir(dir); err != nil || got != dir {
		t.Errorf("FindBPEDir(%s) = %q, %v", dir, got, err)
	}
	t.Setenv("MLECS_BPE", dir)
	if got, err := FindBPEDir(""); err != nil || got != dir {
		t.Errorf("from $MLECS_BPE: %q, %v", got, err)
	}
}
