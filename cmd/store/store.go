// Package store implements `mlecs store check`: an offline integrity check of a node's Badger store
// (every checkpoint and blob read back and verified) and of its learner checkpoint files, for after a
// crash, a full disk or a suspect medium, before the node is started again.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/node"
	"github.com/mlecs/mlecs/storage"
)

var (
	// ErrUsage is returned for a bad argument.
	ErrUsage = errors.New("usage")
	// ErrDamaged is returned when the check found damaged records (after printing them).
	ErrDamaged = errors.New("store damaged")
)

// NewCmd returns the store command group.
func NewCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:           "store",
		Short:         "Maintenance of a node's local store (offline)",
		Args:          cobra.NoArgs,
		SilenceErrors: true, // main prints the error once
	}
	cmd.AddCommand(newCheckCmd())
	return cmd
}

type checkOptions struct {
	dir     string
	noBlobs bool
	json    bool
}

func newCheckCmd() *cobra.Command {
	var o checkOptions
	cmd := &cobra.Command{
		Use:          "check DIR [--no-blobs] [--json]",
		SilenceUsage: true, // a damaged store is a result, not a usage mistake
		Short:        "Verify every checkpoint and blob of a stopped node's store; exit 1 if any is damaged",
		Long: "check opens the store of a stopped node (DIR is the node's data dir or its db/ subdirectory),\n" +
			"reads back every checkpoint (manifest checksum, each tensor's SHA-256), every learner checkpoint\n" +
			"file in the data dir's learner/ (header, length, SHA-256; partial files a crash left are removed,\n" +
			"as the node would) and every blob (chunk CRC-32C and SHA-256), and prints what it found and which\n" +
			"checkpoint of each kind the node would resume from (the newest intact one). It fails with exit\n" +
			"status 1 when anything is damaged. The store is locked while the node runs: stop the node first.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dir = args[0]
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&o.noBlobs, "no-blobs", false, "verify checkpoints only (blobs can be large)")
	cmd.Flags().BoolVar(&o.json, "json", false, "print machine-readable JSON")
	return cmd
}

// storeDir resolves DIR to the Badger directory: DIR itself, or DIR/db for a node's data dir. It never
// creates one: checking a path that holds no store is a usage error, not an empty store.
func storeDir(dir string) (string, error) {
	for _, d := range []string{dir, filepath.Join(dir, "db")} {
		if _, err := os.Stat(filepath.Join(d, "MANIFEST")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: no store in %s (neither %s nor %s exists)", ErrUsage, dir,
		filepath.Join(dir, "MANIFEST"), filepath.Join(dir, "db", "MANIFEST"))
}

// learnerDir is where the node whose Badger directory is storeDir keeps its learner checkpoint files:
// the data dir's learner/, when storeDir is a data dir's db/ (the node's layout); "" otherwise.
func learnerDir(storeDir string) string {
	if filepath.Base(storeDir) != "db" {
		return ""
	}
	return node.LearnerDir(filepath.Dir(storeDir))
}

// Report is the JSON output.
type Report struct {
	Dir         string            `json:"dir"`
	LearnerDir  string            `json:"learner_dir,omitempty"` // checked learner checkpoint files
	Checkpoints []CheckpointLine  `json:"checkpoints"`
	Blobs       *BlobSummary      `json:"blobs,omitempty"`
	Newest      map[string]Resume `json:"newest"` // per kind: what the node resumes from
	Damaged     int               `json:"damaged"`
	Seconds     float64           `json:"seconds"`
}

// CheckpointLine is one checkpoint.
type CheckpointLine struct {
	Kind    string            `json:"kind"`
	Term    uint64            `json:"term"`
	Round   uint64            `json:"round"`
	Created time.Time         `json:"created,omitzero"`
	Tensors int               `json:"tensors"`
	Bytes   int64             `json:"bytes"`
	Meta    map[string]string `json:"meta,omitempty"`
	OK      bool              `json:"ok"`
	Error   string            `json:"error,omitempty"`
}

// BlobSummary counts the blobs and lists the damaged ones.
type BlobSummary struct {
	Verified int        `json:"verified"`
	Bytes    int64      `json:"bytes"`
	Damaged  []BlobLine `json:"damaged"`
}

// BlobLine is one damaged blob.
type BlobLine struct {
	Key   string `json:"key"`
	Hash  string `json:"hash,omitempty"`
	Error string `json:"error"`
}

// Resume names a checkpoint.
type Resume struct {
	Term  uint64 `json:"term"`
	Round uint64 `json:"round"`
}

func (o *checkOptions) run(ctx context.Context, w, errw io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	dir, err := storeDir(o.dir)
	if err != nil {
		return err
	}
	start := time.Now()
	log := slog.New(slog.NewTextHandler(errw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := storage.Open(dir, storage.WithLogger(log))
	if err != nil {
		if errors.Is(err, storage.ErrLocked) {
			return fmt.Errorf("store check: %w (stop the node first)", err)
		}
		return fmt.Errorf("store check: %w", err)
	}
	vr, verr := st.Verify(ctx, !o.noBlobs)
	if err := st.Close(); err != nil && verr == nil {
		verr = err
	}
	if verr != nil {
		return fmt.Errorf("store check %s: %w", dir, verr)
	}
	ldir, err := verifyLearners(ctx, learnerDir(dir), log, &vr)
	if err != nil {
		return fmt.Errorf("store check %s: %w", ldir, err)
	}
	rep := report(dir, vr, !o.noBlobs)
	rep.LearnerDir = ldir
	rep.Seconds = time.Since(start).Seconds()
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := printReport(w, rep); err != nil {
		return err
	}
	if rep.Damaged > 0 {
		return fmt.Errorf("%w: %d damaged records in %s", ErrDamaged, rep.Damaged, dir)
	}
	return nil
}

// verifyLearners verifies the learner checkpoint files in dir, if it exists, and adds them to vr's
// checkpoints (kept ordered by kind). It returns dir when it checked it, else "".
func verifyLearners(ctx context.Context, dir string, log *slog.Logger, vr *storage.VerifyReport) (string, error) {
	if dir == "" {
		return "", nil
	}
	if fi, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return "", nil // the node never saved a learner
	} else if err != nil {
		return dir, err
	} else if !fi.IsDir() {
		return dir, fmt.Errorf("%s is not a directory", dir)
	}
	fc, err := storage.OpenFileCheckpoints(dir, node.LearnerKind, storage.WithLogger(log))
	if err != nil {
		return dir, err
	}
	checks, err := fc.Verify(ctx)
	if err != nil {
		return dir, err
	}
	vr.Checkpoints = append(vr.Checkpoints, checks...)
	slices.SortStableFunc(vr.Checkpoints, func(a, b storage.CheckpointCheck) int { return strings.Compare(a.Kind, b.Kind) })
	return dir, nil
}

func report(dir string, vr storage.VerifyReport, blobs bool) Report {
	rep := Report{Dir: dir, Checkpoints: []CheckpointLine{}, Newest: map[string]Resume{}, Damaged: vr.Damaged()}
	for _, c := range vr.Checkpoints {
		l := CheckpointLine{Kind: c.Kind, Term: c.Term, Round: c.Round, Created: c.Created, Tensors: c.Tensors,
			Bytes: c.Bytes, Meta: c.Meta, OK: c.Err == nil}
		if c.Err != nil {
			l.Error = c.Err.Error()
		}
		rep.Checkpoints = append(rep.Checkpoints, l)
		if n, ok := vr.Newest(c.Kind); ok {
			rep.Newest[c.Kind] = Resume{Term: n.Term, Round: n.Round}
		}
	}
	if blobs {
		rep.Blobs = &BlobSummary{Verified: vr.Blobs, Bytes: vr.BlobBytes, Damaged: []BlobLine{}}
		for _, b := range vr.BadBlobs {
			l := BlobLine{Key: b.Key, Error: b.Err.Error()}
			if b.Hash != (storage.Hash{}) {
				l.Hash = b.Hash.String()
			}
			rep.Blobs.Damaged = append(rep.Blobs.Damaged, l)
		}
	}
	return rep
}

func printReport(w io.Writer, r Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tTERM\tROUND\tCREATED\tTENSORS\tBYTES\tSTATUS")
	for _, c := range r.Checkpoints {
		status := "ok"
		if !c.OK {
			status = "DAMAGED: " + c.Error
		}
		created := "-"
		if !c.Created.IsZero() {
			created = c.Created.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d\t%s\n", c.Kind, c.Term, c.Round, created, c.Tensors, c.Bytes, status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Checkpoints) == 0 {
		fmt.Fprintln(w, "(no checkpoints)")
	}
	if r.LearnerDir != "" {
		fmt.Fprintf(w, "learner checkpoint files: %s\n", r.LearnerDir)
	}
	if r.Blobs != nil {
		fmt.Fprintf(w, "blobs: %d verified (%d bytes), %d damaged\n", r.Blobs.Verified, r.Blobs.Bytes, len(r.Blobs.Damaged))
		for _, b := range r.Blobs.Damaged {
			fmt.Fprintf(w, "  DAMAGED blob %s: %s\n", b.Key, b.Error)
		}
	}
	kinds := map[string]bool{}
	for _, c := range r.Checkpoints {
		if kinds[c.Kind] {
			continue
		}
		kinds[c.Kind] = true
		if n, ok := r.Newest[c.Kind]; ok {
			fmt.Fprintf(w, "resumes from: %s term %d round %d\n", c.Kind, n.Term, n.Round)
		} else {
			fmt.Fprintf(w, "resumes from: %s: no intact checkpoint\n", c.Kind)
		}
	}
	_, err := fmt.Fprintf(w, "%d damaged, checked in %.1fs\n", r.Damaged, r.Seconds)
	return err
}
