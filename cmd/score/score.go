// Package score implements `mlecs score`: ROUGE-1/2/L/Lsum of prediction
// and target pairs, computed as Google's rouge-score package does.
package score

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/training/metrics"
)

var (
	// ErrUsage is returned for missing or invalid flags.
	ErrUsage = errors.New("usage")
	// ErrInput is returned for a malformed pairs line; the message names the line.
	ErrInput = errors.New("malformed pairs input")
)

// maxLine bounds one JSONL line.
const maxLine = 16 << 20

type options struct {
	pairs string
	stem  bool
}

// NewCmd returns the score command.
func NewCmd() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "score --pairs FILE.jsonl [--stem]",
		Short: "Score predictions against targets with ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum",
		Long: "score reads JSON lines {\"target\": str | [str], \"prediction\": str} from --pairs (- for stdin)\n" +
			"and prints, per line, {\"rouge1\", \"rouge2\", \"rougeL\", \"rougeLsum\"} each as {\"p\", \"r\", \"f\"},\n" +
			"then a final line {\"mean\": {...}}. Scores agree with Google's rouge-score (ROUGE-1.5.5 compatible):\n" +
			"lowercase, non-alphanumerics separate tokens, --stem Porter-stems tokens longer than 3 characters,\n" +
			"rougeLsum splits on newlines; with several targets each type keeps the best-F target.\n" +
			"Blank lines are skipped; other fields of a line are ignored.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			in, name, closeIn, err := o.open(cmd.InOrStdin())
			if err != nil {
				return err
			}
			defer closeIn()
			return o.run(cmd.Context(), in, name, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.pairs, "pairs", "", "JSONL file of {\"target\", \"prediction\"} pairs, - for stdin")
	cmd.Flags().BoolVar(&o.stem, "stem", false, "Porter-stem tokens longer than 3 characters (rouge-score's use_stemmer)")
	return cmd
}

func (o *options) validate() error {
	if o.pairs == "" {
		return fmt.Errorf("%w: --pairs FILE.jsonl (or - for stdin) is required", ErrUsage)
	}
	return nil
}

func (o *options) open(stdin io.Reader) (r io.Reader, name string, closeFn func(), err error) {
	if o.pairs == "-" {
		return stdin, "stdin", func() {}, nil
	}
	f, err := os.Open(o.pairs)
	if err != nil {
		return nil, "", nil, fmt.Errorf("score: %w", err)
	}
	return f, o.pairs, func() { f.Close() }, nil
}

func (o *options) run(ctx context.Context, in io.Reader, name string, w io.Writer) error {
	out := bufio.NewWriter(w)
	scorer := metrics.Scorer{Stem: o.stem}
	var all []metrics.Scores
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	line := 0
	for sc.Scan() {
		line++
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		targets, prediction, err := parsePair(sc.Bytes())
		if err != nil {
			return fmt.Errorf("%w: %s line %d: %v", ErrInput, name, line, err)
		}
		s, err := scorer.ScoreMulti(targets, prediction)
		if err != nil {
			return fmt.Errorf("%w: %s line %d: %v", ErrInput, name, line, err)
		}
		if err := writeJSON(out, s); err != nil {
			return err
		}
		all = append(all, s)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %s line %d: %w", ErrInput, name, line+1, err)
	}
	mean, err := metrics.Average(all)
	if err != nil {
		return fmt.Errorf("%w: %s holds no pairs", ErrInput, name)
	}
	if err := writeJSON(out, struct {
		Mean metrics.Scores `json:"mean"`
	}{mean}); err != nil {
		return err
	}
	return out.Flush()
}

// parsePair decodes one line: an object whose "target" is a string or a
// non-empty array of strings and whose "prediction" is a string.
func parsePair(data []byte) ([]string, string, error) {
	var p struct {
		Target     json.RawMessage `json:"target"`
		Prediction *string         `json:"prediction"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return nil, "", fmt.Errorf("not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, "", errors.New("trailing data after the JSON object")
	}
	if p.Prediction == nil {
		return nil, "", errors.New(`"prediction" (a string) is missing`)
	}
	t := bytes.TrimSpace(p.Target)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, "", errors.New(`"target" (a string or an array of strings) is missing`)
	}
	var one string
	if err := json.Unmarshal(t, &one); err == nil {
		return []string{one}, *p.Prediction, nil
	}
	var many []string
	if err := json.Unmarshal(t, &many); err != nil {
		return nil, "", errors.New(`"target" must be a string or an array of strings`)
	}
	if len(many) == 0 {
		return nil, "", errors.New(`"target" is an empty array`)
	}
	return many, *p.Prediction, nil
}

func writeJSON(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("score: encode output: %w", err)
	}
	data = append(data, '\n')
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("score: write output: %w", err)
	}
	return nil
}
