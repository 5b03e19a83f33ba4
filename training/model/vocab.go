package model

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mlecs/mlecs/training/tokenizer"
)

// Files of a base directory (written by Pretrain) and of a model directory (written by Train).
const (
	BaseWeightsFile = "base.safetensors"
	RestrictedFile  = "vocab.json"   // restricted vocabulary; absent: the full GPT-2 vocabulary
	EncoderFile     = "encoder.json" // GPT-2 BPE, copied so a directory is self-contained
	MergesFile      = "vocab.bpe"    //
	ModelFile       = "model.json"   // Spec
	LatestFile      = "latest"       // relative path of the newest checkpoint directory
	TrainableFile   = "trainable.safetensors"
	OptimFile       = "optim.safetensors"
	StateFile       = "state.json"
)

// Vocab is the tokenizer a model uses: a *tokenizer.Tokenizer or a *tokenizer.Restricted.
type Vocab interface {
	EncodeOrdinary(text string) []int
	Decode(ids []int) (string, error)
	EOT() int
	VocabSize() int
}

// EncodeText tokenises a target or input text the way the model sees it: with a leading space, so that
// its first word is the same token as after the instruction.
func EncodeText(v Vocab, text string) []int32 {
	ids := v.EncodeOrdinary(" " + strings.TrimSpace(text))
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}

// DecodeText turns generated ids back into text (invalid UTF-8 replaced, surrounding space trimmed).
func DecodeText(v Vocab, ids []int32) (string, error) {
	in := make([]int, len(ids))
	for i, id := range ids {
		in[i] = int(id)
	}
	s, err := v.Decode(in)
	if err != nil {
		return "", fmt.Errorf("decoding prediction: %w", err)
	}
	return strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD")), nil
}

// LoadVocab reads the BPE files of dir and, if dir holds vocab.json, the restricted vocabulary over them.
func LoadVocab(dir string) (Vocab, error) {
	base, err := tokenizer.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: loading tokenizer from %s: %w", ErrCheckpoint, dir, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, RestrictedFile))
	if errors.Is(err, fs.ErrNotExist) {
		return base, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	r, err := tokenizer.ParseRestricted(base, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCheckpoint, filepath.Join(dir, RestrictedFile), err)
	}
	return r, nil
}

// copyVocabFiles copies the BPE files (and vocab.json if present) from src to dst.
func copyVocabFiles(src, dst string) error {
	for _, name := range []string{EncoderFile, MergesFile, RestrictedFile} {
		raw, err := os.ReadFile(filepath.Join(src, name))
		if errors.Is(err, fs.ErrNotExist) && name == RestrictedFile {
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: copying vocabulary: %w", ErrCheckpoint, err)
		}
		if err := writeFileAtomic(filepath.Join(dst, name), raw); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes data to a temporary file in the same directory, syncs it and renames it over path.
func writeFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("renaming %s: %w", path, err)
	}
	return nil
}
