package model

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ProgressPrinter returns a Progress callback that writes one line per report to w: rewritten in place
// (carriage return) when w is a terminal, plain lines otherwise (every tenth report and each epoch's last).
func ProgressPrinter(w io.Writer, label string) func(Progress) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return func(p Progress) {
		line := fmt.Sprintf("%s step %d/%d loss %.4f %.1f samples/s", label, p.Step, p.Steps, p.Loss, p.SamplesPerSec)
		if p.Epochs > 0 {
			line = fmt.Sprintf("%s epoch %d/%d step %d/%d loss %.4f %.1f samples/s", label, p.Epoch, p.Epochs, p.Step, p.Steps, p.Loss, p.SamplesPerSec)
		}
		last := p.Step == p.Steps
		switch {
		case tty && last:
			fmt.Fprintf(w, "\r\033[K%s\n", line)
		case tty:
			fmt.Fprintf(w, "\r\033[K%s", line)
		case last || p.Step%10 == 0:
			fmt.Fprintln(w, line)
		}
	}
}

// FindBPEDir resolves the GPT-2 BPE directory: flag if set, else $MLECS_BPE, else shared/data/gpt2-bpe
// found beside or above the working directory (the layout of this workspace: ../shared/data from the
// repository root).
func FindBPEDir(flag string) (string, error) {
	ok := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, EncoderFile))
		return err == nil
	}
	if flag != "" {
		if !ok(flag) {
			return "", fmt.Errorf("%w: %s has no %s", ErrConfig, flag, EncoderFile)
		}
		return flag, nil
	}
	if env := os.Getenv("MLECS_BPE"); env != "" {
		if !ok(env) {
			return "", fmt.Errorf("%w: $MLECS_BPE=%s has no %s", ErrConfig, env, EncoderFile)
		}
		return env, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrConfig, err)
	}
	for {
		for _, c := range []string{filepath.Join(dir, "shared", "data", "gpt2-bpe"), filepath.Join(dir, "..", "shared", "data", "gpt2-bpe")} {
			if ok(c) {
				return c, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: GPT-2 BPE files not found: pass --bpe DIR or set MLECS_BPE: %w", ErrConfig, fs.ErrNotExist)
		}
		dir = parent
	}
}
