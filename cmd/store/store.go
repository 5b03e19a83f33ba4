// Package store implements `mlecs store check`: an offline integrity check of a node's Badger store
// (every checkpoint and blob read back and verified), for after a crash, a full disk or a suspect
// medium, before the node is started again.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

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
			"reads back every checkpoint (manifest checksum, each tensor's SHA-256) and every blob (chunk\n" +
			"CRC-32C and SHA-256), and prints what it found and which checkpoint of each kind the node would\n" +
			"resume from (the newest intact one). It fails with exit status 1 when anything is damaged.\n" +
			"The store is locked while the node runs: stop the node first.",
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

// Report is the JSON output.
type Report struct {
	Dir         string            `json:"dir"`
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
	rep := report(dir, vr, !o.noBlobs)
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
