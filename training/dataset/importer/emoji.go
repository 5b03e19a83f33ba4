package importer

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mlecs/mlecs/training/dataset"
)

// Emoji modality names.
const (
	EmojiTwemoji  = "twemoji"
	EmojiNoto     = "noto"
	EmojiKeywords = "keywords"
)

// emojiConfig is what the emoji options set.
type emojiConfig struct {
	testPercent int
	workers     int
	copyFiles   bool
	log         *slog.Logger
}

// EmojiOption configures ImportEmoji.
type EmojiOption func(*emojiConfig) error

// EmojiTestPercent sets the share of base emoji (by hash) in the test split.
func EmojiTestPercent(p int) EmojiOption {
	return func(c *emojiConfig) error {
		if p < 0 || p > 100 {
			return fmt.Errorf("%w: test percent %d (want 0..100)", ErrOption, p)
		}
		c.testPercent = p
		return nil
	}
}

// EmojiWorkers sets how many files are linked or copied in parallel.
func EmojiWorkers(n int) EmojiOption {
	return func(c *emojiConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: %d workers", ErrOption, n)
		}
		c.workers = n
		return nil
	}
}

// EmojiCopyFiles copies the images instead of hard-linking them (for a
// dataset that must not share inodes with the source).
func EmojiCopyFiles() EmojiOption {
	return func(c *emojiConfig) error {
		c.copyFiles = true
		return nil
	}
}

// EmojiLogger sets the logger for progress and warnings.
func EmojiLogger(l *slog.Logger) EmojiOption {
	return func(c *emojiConfig) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrOption)
		}
		c.log = l
		return nil
	}
}

const emojiDescription = "Emoji concepts drawn by two artists: twemoji (Twemoji 64x64 PNG, from npm " +
	"emoji-datasource-twitter@16.0.0 img/twitter/64) and noto (Noto Emoji 64x64 PNG, from npm " +
	"emoji-datasource-google@16.0.0 img/google/64), with keywords = the CLDR English keywords (emojibase-data@17.0.0 " +
	"en/data.json, separated by \"; \"). Target = the CLDR English name (e.g. \"man firefighter: dark skin tone\"), " +
	"label = the emoji group (10 minus \"component\", which is left out). Split by base emoji (base_hexcode, or " +
	"hexcode for base emoji) so skin-tone variants never straddle it: test when FNV-1a-64(base) mod 100 < %d. A " +
	"sample lacking an image or keywords lacks that modality."

const emojiLicense = "Twemoji graphics by Twitter, Inc. and other contributors, CC BY 4.0 " +
	"(https://creativecommons.org/licenses/by/4.0/). Noto Emoji by Google, Apache-2.0. Emoji metadata by Cal Henderson " +
	"(iamcal/emoji-data, MIT) and Miles Johnson (emojibase, MIT), from Unicode CLDR (Unicode License v3). " +
	"Licence texts in licenses/."

// EmojiStats summarises an import.
type EmojiStats struct {
	Samples   int
	Excluded  int // component group, no target or no input
	Images    int // image files placed in the dataset
	Linked    bool
	Train     int
	Test      int
	BaseEmoji int
}

// emojiRow is the part of emoji_manifest.csv we use.
type emojiRow struct {
	hexcode, image, label, tags, group, base string
	twitter, google                          bool
	line                                     int
}

// ImportEmoji converts src (the emoji folder) into an mlecs-dataset/1
// directory at out with modalities twemoji and noto (images, hard-linked
// from src when the file system allows, copied otherwise) and keywords
// (inline text).
func ImportEmoji(ctx context.Context, src, out string, opts ...EmojiOption) (*dataset.Dataset, EmojiStats, error) {
	cfg := emojiConfig{testPercent: 20, workers: 2, log: slog.Default()}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, EmojiStats{}, err
		}
	}
	manifest := filepath.Join(src, "emoji_manifest.csv")
	rows, err := readEmojiManifest(manifest)
	if err != nil {
		return nil, EmojiStats{}, err
	}
	w, err := dataset.Create(out, dataset.Header{Name: "emoji", Description: fmt.Sprintf(emojiDescription, cfg.testPercent),
		License: emojiLicense, Modalities: map[string]dataset.Modality{
			EmojiTwemoji: {Kind: dataset.KindImage}, EmojiNoto: {Kind: dataset.KindImage}, EmojiKeywords: {Kind: dataset.KindText}}})
	if err != nil {
		return nil, EmojiStats{}, err
	}
	defer w.Abort()

	var (
		st     EmojiStats
		copies []fileCopy
		bases  = map[string]struct{}{}
	)
	for _, r := range rows {
		if r.group == "component" || strings.TrimSpace(r.label) == "" {
			st.Excluded++
			continue
		}
		in := map[string]dataset.Input{}
		for _, art := range []struct {
			name, dir string
			has       bool
		}{{EmojiTwemoji, "twemoji_64", r.twitter}, {EmojiNoto, "noto_64", r.google}} {
			from := filepath.Join(src, art.dir, r.image)
			if !art.has || r.image == "" || !isFile(from) {
				continue
			}
			rel := art.name + "/" + r.image
			in[art.name] = dataset.Input{Path: rel}
			copies = append(copies, fileCopy{from: from, to: filepath.Join(w.Dir(), filepath.FromSlash(rel))})
		}
		if t := strings.TrimSpace(r.tags); t != "" {
			in[EmojiKeywords] = dataset.Input{Text: t}
		}
		if len(in) == 0 {
			cfg.log.Warn("emoji: no image or keywords, left out", "hexcode", r.hexcode, "line", r.line)
			st.Excluded++
			continue
		}
		split := dataset.SplitTrain
		if emojiIsTest(r.base, cfg.testPercent) {
			split = dataset.SplitTest
			st.Test++
		} else {
			st.Train++
		}
		bases[r.base] = struct{}{}
		if err := w.Add(dataset.Sample{ID: r.hexcode, Split: split, Inputs: in, Targets: []string{r.label}, Label: r.group}); err != nil {
			return nil, EmojiStats{}, fmt.Errorf("import emoji: %s line %d: %w", manifest, r.line, err)
		}
		st.Samples++
	}
	for _, lic := range []string{"emoji-datasource.LICENSE", "emojibase-data.LICENSE"} {
		from := filepath.Join(src, "meta", lic)
		if isFile(from) {
			copies = append(copies, fileCopy{from: from, to: filepath.Join(w.Dir(), "licenses", lic)})
		}
	}
	linked, err := placeFiles(ctx, copies, cfg.workers, !cfg.copyFiles)
	if err != nil {
		return nil, EmojiStats{}, err
	}
	st.Images, st.Linked, st.BaseEmoji = len(copies), linked, len(bases)
	d, err := w.Commit()
	if err != nil {
		return nil, EmojiStats{}, err
	}
	cfg.log.Info("emoji: imported", "out", out, "samples", st.Samples, "train", st.Train, "test", st.Test,
		"excluded", st.Excluded, "linked", st.Linked)
	return d, st, nil
}

// emojiIsTest puts a base emoji in the test split by a fixed hash, so the
// split is the same on every machine and for every importer version.
func emojiIsTest(base string, percent int) bool {
	h := fnv.New64a()
	h.Write([]byte(base))
	return h.Sum64()%100 < uint64(percent)
}

// readEmojiManifest parses emoji_manifest.csv.
func readEmojiManifest(path string) ([]emojiRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSource, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSource, path, err)
	}
	col, err := columnIndex(header, path, "hexcode", "image", "cldr_label", "cldr_tags", "group", "base_hexcode", "has_twitter", "has_google")
	if err != nil {
		return nil, err
	}
	var rows []emojiRow
	seen := map[string]int{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrSource, path, err)
		}
		line, _ := r.FieldPos(0)
		row := emojiRow{hexcode: rec[col["hexcode"]], image: rec[col["image"]], label: rec[col["cldr_label"]],
			tags: rec[col["cldr_tags"]], group: rec[col["group"]], base: rec[col["base_hexcode"]],
			twitter: rec[col["has_twitter"]] == "1", google: rec[col["has_google"]] == "1", line: line}
		if row.hexcode == "" {
			return nil, fmt.Errorf("%w: %s line %d: empty hexcode", ErrSource, path, line)
		}
		if first, dup := seen[row.hexcode]; dup {
			return nil, fmt.Errorf("%w: %s line %d: hexcode %s repeats line %d", ErrSource, path, line, row.hexcode, first)
		}
		if row.image != "" && (row.image != filepath.Base(row.image) || strings.HasPrefix(row.image, ".")) {
			return nil, fmt.Errorf("%w: %s line %d: image %q is not a plain file name", ErrSource, path, line, row.image)
		}
		seen[row.hexcode] = line
		if row.base == "" {
			row.base = row.hexcode
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: %s has no rows", ErrSource, path)
	}
	return rows, nil
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// fileCopy is one file to place in the dataset.
type fileCopy struct{ from, to string }

// placeFiles hard-links each file when link is set (instant, no extra
// space; the dataset stays self-contained because a link is a full name of
// the file) and copies it otherwise or when linking is refused (another
// file system, no rights). It reports whether every file was linked.
func placeFiles(ctx context.Context, files []fileCopy, workers int, link bool) (bool, error) {
	dirs := map[string]struct{}{}
	for _, f := range files {
		dirs[filepath.Dir(f.to)] = struct{}{}
	}
	for d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return false, fmt.Errorf("import: %w", err)
		}
	}
	var (
		mu       sync.Mutex
		firstErr error
		copied   int
		wg       sync.WaitGroup
		next     = make(chan fileCopy)
	)
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range next {
				linked, err := placeFile(f, link)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if !linked {
					copied++
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, f := range files {
		select {
		case next <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("import: %w", err)
	}
	return copied == 0, firstErr
}

func placeFile(f fileCopy, link bool) (linked bool, err error) {
	if link {
		if err := os.Link(f.from, f.to); err == nil {
			return true, nil
		}
	}
	in, err := os.Open(f.from)
	if err != nil {
		return false, fmt.Errorf("import: %w", err)
	}
	defer in.Close()
	out, err := os.Create(f.to)
	if err != nil {
		return false, fmt.Errorf("import: %w", err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("import: copy %s: %w", f.from, errors.Join(err, os.Remove(f.to)))
	}
	return false, nil
}
