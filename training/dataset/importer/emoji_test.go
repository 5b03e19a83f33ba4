package importer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/dataset/datatest"
)

const manifestHeader = "hexcode,image,cldr_label,cldr_tags,group,subgroup,datasource_name,datasource_category,datasource_subcategory,skin_tone,base_hexcode,has_twitter,has_google\n"

// synthEmoji writes a tiny emoji source: a face with a skin-tone variant, an
// emoji without a Noto image, one whose Twemoji file is missing on disk, a
// component and one without keywords.
func synthEmoji(t *testing.T) string {
	src := t.TempDir()
	png := []byte("\x89PNG\r\n\x1a\nnot really decoded by the importer")
	for _, f := range []string{"1f44b.png", "1f44b-1f3fb.png", "2764.png", "1f3fb.png", "1f600.png"} {
		mustWrite(t, filepath.Join(src, "twemoji_64", f), png)
		mustWrite(t, filepath.Join(src, "noto_64", f), png)
	}
	mustWrite(t, filepath.Join(src, "twemoji_64", "1f680.png"), png)
	os.Remove(filepath.Join(src, "noto_64", "2764.png"))
	mustWrite(t, filepath.Join(src, "meta", "emojibase-data.LICENSE"), []byte("MIT"))
	mustWrite(t, filepath.Join(src, "emoji_manifest.csv"), []byte(manifestHeader+
		"1F44B,1f44b.png,waving hand,hand; wave; waving,people-body,hand-fingers-open,,,,,,1,1\n"+
		"1F44B-1F3FB,1f44b-1f3fb.png,waving hand: light skin tone,hand; wave,people-body,hand-fingers-open,,,,1,1F44B,1,1\n"+
		"2764,2764.png,red heart,heart,smileys-emotion,heart,,,,,,1,1\n"+
		"1F680,1f680.png,rocket,rocket; space,travel-places,transport-air,,,,,,1,0\n"+
		"1F3FB,1f3fb.png,light skin tone,skin tone,component,skin-tone,,,,,,1,1\n"+
		"1F600,1f600.png,grinning face,,smileys-emotion,face-smiling,,,,,,1,1\n"))
	return src
}

func TestImportEmojiSynthetic(t *testing.T) {
	for _, copyFiles := range []bool{false, true} {
		src := synthEmoji(t)
		out := filepath.Join(t.TempDir(), "emoji")
		opts := []EmojiOption{EmojiLogger(quiet()), EmojiTestPercent(50)}
		if copyFiles {
			opts = append(opts, EmojiCopyFiles())
		}
		d, st, err := ImportEmoji(context.Background(), src, out, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if st.Samples != 5 || st.Excluded != 1 || st.BaseEmoji != 4 || st.Linked == copyFiles {
			t.Errorf("stats %+v", st)
		}
		byID := map[string]dataset.Sample{}
		for _, s := range d.Samples {
			byID[s.ID] = s
		}
		if _, ok := byID["1F3FB"]; ok {
			t.Error("component imported")
		}
		wave := byID["1F44B"]
		if wave.Targets[0] != "waving hand" || wave.Label != "people-body" || wave.Inputs[EmojiKeywords].Text != "hand; wave; waving" ||
			wave.Inputs[EmojiTwemoji].Path != "twemoji/1f44b.png" || wave.Inputs[EmojiNoto].Path != "noto/1f44b.png" {
			t.Errorf("waving hand = %+v", wave)
		}
		if byID["1F44B-1F3FB"].Split != wave.Split {
			t.Error("skin-tone variant split apart from its base")
		}
		if s := byID["2764"]; s.Has(EmojiNoto) || !s.Has(EmojiTwemoji) {
			t.Errorf("heart without Noto file: %v", s.ModalityNames())
		}
		if s := byID["1F680"]; s.Has(EmojiNoto) || !s.Has(EmojiTwemoji) {
			t.Errorf("rocket without has_google: %v", s.ModalityNames())
		}
		if s := byID["1F600"]; s.Has(EmojiKeywords) || !s.Has(EmojiNoto) {
			t.Errorf("grinning face without keywords: %v", s.ModalityNames())
		}
		if _, err := os.Stat(filepath.Join(out, "licenses", "emojibase-data.LICENSE")); err != nil {
			t.Error(err)
		}
		a, _ := os.Stat(filepath.Join(src, "twemoji_64", "1f44b.png"))
		b, _ := os.Stat(filepath.Join(out, "twemoji", "1f44b.png"))
		same := a.Sys().(*syscall.Stat_t).Ino == b.Sys().(*syscall.Stat_t).Ino
		if same == copyFiles {
			t.Errorf("copy=%v but same inode=%v", copyFiles, same)
		}
	}
}

func TestImportEmojiErrors(t *testing.T) {
	cases := []struct {
		name, manifest, want string
	}{
		{"missing column", "hexcode,image\n1F600,1f600.png\n", `no "cldr_label" column`},
		{"duplicate", manifestHeader + "1F600,1f600.png,a,b,g,s,,,,,,1,1\n1F600,1f600.png,a,b,g,s,,,,,,1,1\n", "repeats line 2"},
		{"path in image", manifestHeader + "1F600,../x.png,a,b,g,s,,,,,,1,1\n", "plain file name"},
		{"no rows", manifestHeader, "no rows"},
		{"ragged", manifestHeader + "1F600,1f600.png\n", "wrong number of fields"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := synthEmoji(t)
			mustWrite(t, filepath.Join(src, "emoji_manifest.csv"), []byte(tc.manifest))
			out := filepath.Join(t.TempDir(), "emoji")
			_, _, err := ImportEmoji(context.Background(), src, out, EmojiLogger(quiet()))
			if !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Error("failed import left output")
			}
		})
	}
	if _, _, err := ImportEmoji(context.Background(), t.TempDir(), t.TempDir()); !errors.Is(err, ErrSource) {
		t.Errorf("empty source: %v", err)
	}
	for _, o := range []EmojiOption{EmojiTestPercent(101), EmojiWorkers(0), EmojiLogger(nil)} {
		if _, _, err := ImportEmoji(context.Background(), t.TempDir(), t.TempDir(), o); !errors.Is(err, ErrOption) {
			t.Errorf("option accepted: %v", err)
		}
	}
}

func TestImportEmojiReal(t *testing.T) {
	src := filepath.Join(datatest.SharedData(t), "emoji")
	if _, err := os.Stat(src); err != nil {
		t.Skip(err)
	}
	out := filepath.Join(t.TempDir(), "emoji")
	d, st, err := ImportEmoji(context.Background(), src, out, EmojiLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	// 3,786 rows minus the 5 components (README).
	if st.Samples != 3781 || st.Excluded != 5 || st.BaseEmoji != 1906 || st.Images != 2*3781+2 {
		t.Errorf("stats %+v", st)
	}
	if frac := float64(st.Test) / float64(st.Samples); frac < 0.15 || frac > 0.25 {
		t.Errorf("test fraction %.3f", frac)
	}
	if len(dataset.Labels(d.Samples)) != 9 {
		t.Errorf("labels %v", dataset.Labels(d.Samples))
	}
	// Variants never straddle the split.
	rows, err := readEmojiManifest(filepath.Join(src, "emoji_manifest.csv"))
	if err != nil {
		t.Fatal(err)
	}
	baseOf := map[string]string{}
	for _, r := range rows {
		baseOf[r.hexcode] = r.base
	}
	split := map[string]string{}
	variants := 0
	for _, s := range d.Samples {
		base := baseOf[s.ID]
		if base != s.ID {
			variants++
		}
		if prev, ok := split[base]; ok && prev != s.Split {
			t.Fatalf("%s in %s, other emoji of base %s in %s", s.ID, s.Split, base, prev)
		}
		split[base] = s.Split
	}
	if variants != 1875 {
		t.Errorf("%d skin-tone variants, README says 1,875", variants)
	}
	// Images decode through the dataset loader.
	f, err := dataset.NewFeaturizer(d, dataset.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range d.Samples[:20] {
		for _, m := range []string{EmojiTwemoji, EmojiNoto, EmojiKeywords} {
			if _, err := f.Featurize(s, m); err != nil && !errors.Is(err, dataset.ErrAbsent) {
				t.Fatal(err)
			}
		}
	}
}
