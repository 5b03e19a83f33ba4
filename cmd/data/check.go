package data

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/training/dataset"
)

type checkOptions struct {
	dir  string
	json bool
	top  int
	deep bool
}

func newCheckCmd() *cobra.Command {
	o := checkOptions{top: 10}
	cmd := &cobra.Command{
		Use:   "check DIR",
		Short: "Validate a dataset directory and summarise it",
		Long: "check parses dataset.json and samples.jsonl with full validation and prints the samples per split,\n" +
			"per modality, the most frequent groups, targets and labels; or every problem found, by file and line\n" +
			"(exit status 1). --deep also decodes every image, WAV and CSV input.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dir = args[0]
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print a JSON object instead of text")
	cmd.Flags().IntVar(&o.top, "top", o.top, "how many groups, targets and labels to list")
	cmd.Flags().BoolVar(&o.deep, "deep", false, "decode every input file as training would")
	return cmd
}

func (o *checkOptions) validate() error {
	if o.dir == "" {
		return fmt.Errorf("%w: a dataset directory is required", ErrUsage)
	}
	if o.top < 0 {
		return fmt.Errorf("%w: --top %d", ErrUsage, o.top)
	}
	return nil
}

// checkReport is the --json output.
type checkReport struct {
	Valid    bool             `json:"valid"`
	Dir      string           `json:"dir"`
	Summary  *dataset.Summary `json:"summary,omitempty"`
	Problems []problemJSON    `json:"problems,omitempty"`
	Omitted  int              `json:"omitted,omitempty"`
}

type problemJSON struct {
	File  string `json:"file"`
	Line  int    `json:"line,omitempty"`
	Error string `json:"error"`
}

func (o *checkOptions) run(ctx context.Context, w io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	rep := checkReport{Dir: o.dir}
	d, err := dataset.Open(o.dir)
	if err == nil && o.deep {
		err = dataset.VerifyInputs(ctx, d, dataset.DefaultConfig(), dataset.DefaultCacheWorkers)
	}
	var ve *dataset.ValidationError
	switch {
	case errors.As(err, &ve):
		for _, p := range ve.Problems {
			rep.Problems = append(rep.Problems, problemJSON{File: p.File, Line: p.Line, Error: p.Err.Error()})
		}
		rep.Omitted = ve.Omitted
	case err != nil:
		return err // I/O failure, cancellation: not a verdict on the dataset
	default:
		rep.Valid = true
		s := dataset.Summarize(d, o.top)
		rep.Summary = &s
	}
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("data check: %w", err)
		}
	} else {
		printReport(w, rep)
	}
	if !rep.Valid {
		return fmt.Errorf("%w: %s: %d problems", ErrInvalid, o.dir, len(rep.Problems)+rep.Omitted)
	}
	return nil
}

func printReport(w io.Writer, rep checkReport) {
	if !rep.Valid {
		fmt.Fprintf(w, "%s: INVALID, %d problems\n", rep.Dir, len(rep.Problems)+rep.Omitted)
		for _, p := range rep.Problems {
			if p.Line > 0 {
				fmt.Fprintf(w, "  %s:%d: %s\n", p.File, p.Line, p.Error)
			} else {
				fmt.Fprintf(w, "  %s: %s\n", p.File, p.Error)
			}
		}
		if rep.Omitted > 0 {
			fmt.Fprintf(w, "  ... and %d more\n", rep.Omitted)
		}
		return
	}
	s := rep.Summary
	fmt.Fprintf(w, "%s: OK, dataset %q\n", rep.Dir, s.Name)
	if s.License != "" {
		fmt.Fprintf(w, "license:    %s\n", s.License)
	}
	fmt.Fprintf(w, "samples:    %d (train %d, test %d)\n", s.Samples, s.Splits[dataset.SplitTrain], s.Splits[dataset.SplitTest])
	fmt.Fprintf(w, "modalities:\n")
	for _, m := range s.Modalities {
		fmt.Fprintf(w, "  %-12s %-10s train %d, test %d\n", m.Name, m.Kind, m.Train, m.Test)
	}
	tally := func(name string, t dataset.Tally) {
		fmt.Fprintf(w, "%-11s %d distinct", name+":", t.Distinct)
		if len(t.Top) > 0 {
			parts := make([]string, len(t.Top))
			for i, c := range t.Top {
				parts[i] = fmt.Sprintf("%q %d", c.Name, c.N)
			}
			fmt.Fprintf(w, "; top: %s", strings.Join(parts, ", "))
		}
		fmt.Fprintln(w)
	}
	tally("groups", s.Groups)
	tally("targets", s.Targets)
	tally("labels", s.Labels)
	if s.Unlabelled > 0 {
		fmt.Fprintf(w, "unlabelled: %d samples\n", s.Unlabelled)
	}
}
