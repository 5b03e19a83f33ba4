// Command partition cuts one edge's share out of an mlecs-dataset/1 directory for the docker testnet:
// the training samples whose group (or id, when a sample has no group) hashes to --index of --parts,
// plus every test sample, each restricted to the edge's --modalities (samples left with no input are
// dropped). With --public-fraction F the public set D' (train samples whose id hash is below F, the
// rule of fedtrainer.IsPublic that the daemons apply) goes to every partition: each edge holds D'_j,
// D' with its own modalities, beside its private share. Referenced files are hard-linked (copied across file systems) so the partition is a
// self-contained dataset that can be bind-mounted read-only into a container.
//
//	go run ./testnet/partition --dataset DIR --out DIR --parts N --index I --modalities a,b [--public-fraction F]
package main

import (
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mlecs/mlecs/node/fedtrainer"
	"github.com/mlecs/mlecs/training/dataset"
)

// errUsage is returned for bad flags.
var errUsage = errors.New("usage")

type options struct {
	src, out     string
	parts, index int
	modalities   []string
	public       float64
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "partition:", err)
		os.Exit(1)
	}
}

func run(args []string, w io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	d, err := dataset.Open(o.src)
	if err != nil {
		return fmt.Errorf("open dataset: %w", err)
	}
	n, err := write(d, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %d samples, modalities %s\n", o.out, n, strings.Join(o.modalities, ","))
	return nil
}

func parseFlags(args []string) (options, error) {
	var o options
	var mods string
	fs := flag.NewFlagSet("partition", flag.ContinueOnError)
	fs.StringVar(&o.src, "dataset", "", "source dataset directory")
	fs.StringVar(&o.out, "out", "", "partition directory to write (replaced if it is a dataset)")
	fs.IntVar(&o.parts, "parts", 0, "number of partitions")
	fs.IntVar(&o.index, "index", -1, "this partition's index, 0..parts-1")
	fs.StringVar(&mods, "modalities", "", "comma-separated modalities to keep")
	fs.Float64Var(&o.public, "public-fraction", 0, "share of train samples (by id hash) in the public set kept in every partition; 0: none")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	o.modalities = strings.Split(mods, ",")
	switch {
	case o.src == "" || o.out == "":
		return o, fmt.Errorf("%w: --dataset and --out are required", errUsage)
	case o.parts < 1 || o.index < 0 || o.index >= o.parts:
		return o, fmt.Errorf("%w: need --parts >= 1 and 0 <= --index < --parts, got %d of %d", errUsage, o.index, o.parts)
	case mods == "" || slices.Contains(o.modalities, ""):
		return o, fmt.Errorf("%w: --modalities %q: want a,b,...", errUsage, mods)
	case !(o.public >= 0 && o.public < 1):
		return o, fmt.Errorf("%w: --public-fraction %v: want [0, 1)", errUsage, o.public)
	}
	return o, nil
}

// owner is the partition a training sample belongs to: by group, so one owner's samples stay together.
func owner(s dataset.Sample, parts int) int {
	key := s.Group
	if key == "" {
		key = s.ID
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(parts))
}

// keep restricts s to the wanted modalities; ok is false when nothing is left or it is another edge's.
func keep(s dataset.Sample, o options) (dataset.Sample, bool) {
	public := o.public > 0 && fedtrainer.IsPublic(s.ID, o.public)
	if s.Split == dataset.SplitTrain && !public && owner(s, o.parts) != o.index {
		return s, false
	}
	in := map[string]dataset.Input{}
	for _, m := range o.modalities {
		if v, ok := s.Inputs[m]; ok {
			in[m] = v
		}
	}
	s.Inputs, s.Line = in, 0
	return s, len(in) > 0
}

func write(d *dataset.Dataset, o options) (int, error) {
	h := d.Header()
	h.Modalities = map[string]dataset.Modality{}
	for _, m := range o.modalities {
		mod, ok := d.Modalities[m]
		if !ok {
			return 0, fmt.Errorf("%w: modality %q not in dataset (has %s)", errUsage, m, strings.Join(d.ModalityNames(), ","))
		}
		h.Modalities[m] = mod
	}
	h.Name = fmt.Sprintf("%s-part%d", d.Name, o.index)
	wr, err := dataset.Create(o.out, h)
	if err != nil {
		return 0, fmt.Errorf("create partition: %w", err)
	}
	for _, s := range d.Samples {
		s, ok := keep(s, o)
		if !ok {
			continue
		}
		for _, in := range s.Inputs {
			if in.Path == "" {
				continue
			}
			if err := linkFile(d.Path(in), filepath.Join(wr.Dir(), filepath.FromSlash(in.Path))); err != nil {
				wr.Abort()
				return 0, err
			}
		}
		if err := wr.Add(s); err != nil {
			wr.Abort()
			return 0, fmt.Errorf("add sample %q: %w", s.ID, err)
		}
	}
	n := wr.Len()
	if _, err := wr.Commit(); err != nil {
		return 0, fmt.Errorf("commit partition: %w", err)
	}
	return n, nil
}

// linkFile hard-links src to dst, copying when a link is impossible (another file system).
func linkFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("link %s: %w", src, err)
	}
	if err := os.Link(src, dst); err == nil || errors.Is(err, os.ErrExist) {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}
