package data

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/dataset/importer"
)

type importOptions struct {
	source       string // har or emoji
	src, out     string
	subjects     []string
	testSubjects []string
	rate         int
	window, hop  int
	testPercent  int
	copyFiles    bool
}

func newImportCmd() *cobra.Command {
	o := importOptions{rate: 50, window: 100, hop: 50, testPercent: 20, testSubjects: importer.DefaultHARTestSubjects()}
	cmd := &cobra.Command{
		Use:   "import har|emoji --src DIR --out DIR",
		Short: "Convert a shipped raw dataset into an mlecs-dataset/1 directory",
		Long: "har:   the smartphone+smartwatch HAR recordings (har-phone-watch/): both devices aligned on their\n" +
			"       timestamps and resampled to --rate Hz, windows of --window steps every --hop steps, split by\n" +
			"       subject (--test-subjects). Modalities phone and watch (timeseries, 6 columns each).\n" +
			"emoji: the Twemoji/Noto emoji images and CLDR keywords (emoji/): modalities twemoji, noto (images,\n" +
			"       hard-linked or with --copy copied) and keywords (text); target = CLDR name, label = group;\n" +
			"       split by base emoji (--test-percent).\n" +
			"The output directory is written atomically; an existing dataset there is replaced.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.source = args[0]
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), cmd.OutOrStdout(), stderrLogger(cmd))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.src, "src", "", "raw dataset folder (e.g. ../shared/data/har-phone-watch)")
	f.StringVar(&o.out, "out", "", "dataset directory to write")
	f.StringSliceVar(&o.subjects, "subjects", nil, "har: import only these subjects (e.g. s01,s02)")
	f.StringSliceVar(&o.testSubjects, "test-subjects", o.testSubjects, "har: subjects whose windows form the test split")
	f.IntVar(&o.rate, "rate", o.rate, "har: common sampling rate in Hz")
	f.IntVar(&o.window, "window", o.window, "har: window length in steps")
	f.IntVar(&o.hop, "hop", o.hop, "har: steps between window starts")
	f.IntVar(&o.testPercent, "test-percent", o.testPercent, "emoji: percentage of base emoji in the test split")
	f.BoolVar(&o.copyFiles, "copy", false, "emoji: copy images instead of hard-linking them")
	return cmd
}

func (o *importOptions) validate() error {
	if o.source != "har" && o.source != "emoji" {
		return fmt.Errorf("%w: unknown dataset %q (want har or emoji)", ErrUsage, o.source)
	}
	if o.src == "" || o.out == "" {
		return fmt.Errorf("%w: --src DIR and --out DIR are required", ErrUsage)
	}
	return nil
}

func (o *importOptions) run(ctx context.Context, w io.Writer, log *slog.Logger) error {
	if ctx == nil {
		ctx = context.Background()
	}
	start := time.Now()
	var (
		d      *dataset.Dataset
		detail string
		err    error
	)
	switch o.source {
	case "har":
		opts := []importer.HAROption{importer.HARLogger(log), importer.HARRate(o.rate), importer.HARWindow(o.window, o.hop),
			importer.HARTestSubjects(o.testSubjects...)}
		if len(o.subjects) > 0 {
			opts = append(opts, importer.HARSubjects(o.subjects...))
		}
		var st importer.HARStats
		d, st, err = importer.ImportHAR(ctx, o.src, o.out, opts...)
		detail = fmt.Sprintf("%d executions, %d skipped; test subjects %s", st.Executions, st.Skipped, strings.Join(o.testSubjects, ","))
	case "emoji":
		opts := []importer.EmojiOption{importer.EmojiLogger(log), importer.EmojiTestPercent(o.testPercent)}
		if o.copyFiles {
			opts = append(opts, importer.EmojiCopyFiles())
		}
		var st importer.EmojiStats
		d, st, err = importer.ImportEmoji(ctx, o.src, o.out, opts...)
		how := "copied"
		if st.Linked {
			how = "hard-linked"
		}
		detail = fmt.Sprintf("%d base emoji, %d excluded, %d files %s", st.BaseEmoji, st.Excluded, st.Images, how)
	}
	if err != nil {
		return err
	}
	s := dataset.Summarize(d, 0)
	fmt.Fprintf(w, "imported %s into %s: %d samples (train %d, test %d); %s; %.1fs\n", d.Name, o.out, s.Samples,
		s.Splits[dataset.SplitTrain], s.Splits[dataset.SplitTest], detail, time.Since(start).Seconds())
	return nil
}
