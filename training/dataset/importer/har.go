package importer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mlecs/mlecs/training/dataset"
)

// HAR modality names and their CSV columns.
const (
	HARPhone = "phone"
	HARWatch = "watch"
)

// harHeader names the six channels of each device, in file order.
const harHeader = "x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro"

// DefaultHARTestSubjects: every fifth subject from s03 (5 of 23, ~22%),
// spread over the age and sex range of subjects_info.csv.
func DefaultHARTestSubjects() []string { return []string{"s03", "s08", "s13", "s18", "s23"} }

// harConfig is what the HAR options set.
type harConfig struct {
	rate         int // Hz of the common grid
	window, hop  int // in grid steps
	testSubjects []string
	subjects     []string // empty: all
	workers      int
	log          *slog.Logger
}

// HAROption configures ImportHAR.
type HAROption func(*harConfig) error

// HARRate sets the common sampling rate both devices are resampled to.
func HARRate(hz int) HAROption {
	return func(c *harConfig) error {
		if hz < 1 || hz > 1000 {
			return fmt.Errorf("%w: rate %d Hz (want 1..1000)", ErrOption, hz)
		}
		c.rate = hz
		return nil
	}
}

// HARWindow sets the window length and hop in grid steps.
func HARWindow(window, hop int) HAROption {
	return func(c *harConfig) error {
		if window < 2 || hop < 1 || hop > window {
			return fmt.Errorf("%w: window %d hop %d (want window >= 2, 1 <= hop <= window)", ErrOption, window, hop)
		}
		c.window, c.hop = window, hop
		return nil
	}
}

// HARTestSubjects sets the subjects whose windows form the test split.
func HARTestSubjects(ids ...string) HAROption {
	return func(c *harConfig) error {
		for _, id := range ids {
			if !isSubjectID(id) {
				return fmt.Errorf("%w: test subject %q (want sNN)", ErrOption, id)
			}
		}
		c.testSubjects = slices.Clone(ids)
		return nil
	}
}

// HARSubjects restricts the import to some subjects (for quick tests).
func HARSubjects(ids ...string) HAROption {
	return func(c *harConfig) error {
		for _, id := range ids {
			if !isSubjectID(id) {
				return fmt.Errorf("%w: subject %q (want sNN)", ErrOption, id)
			}
		}
		c.subjects = slices.Clone(ids)
		return nil
	}
}

// HARWorkers sets how many executions are processed in parallel.
func HARWorkers(n int) HAROption {
	return func(c *harConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: %d workers", ErrOption, n)
		}
		c.workers = n
		return nil
	}
}

// HARLogger sets the logger for progress and warnings.
func HARLogger(l *slog.Logger) HAROption {
	return func(c *harConfig) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrOption)
		}
		c.log = l
		return nil
	}
}

func isSubjectID(s string) bool {
	if len(s) != 3 || s[0] != 's' {
		return false
	}
	_, err := strconv.Atoi(s[1:])
	return err == nil
}

// harDescription documents how the windows were made; %s are filled in.
const harDescription = "Smartphone (phone) and smartwatch (watch) accelerometer and gyroscope recordings of 23 subjects " +
	"performing SEATED, STANDING_UP, WALKING, TURNING, WALKING, TURNING, SITTING_DOWN, SEATED. Per execution the two " +
	"devices' streams are aligned on their UNIX-millisecond timestamps (duplicate timestamps averaged), cut to the span " +
	"both cover and linearly interpolated onto a common %d Hz grid; windows of %d steps (%.2f s) every %d steps " +
	"(%.2f s); label = the majority phone label of the window (upstream class name), target = the activity in words " +
	"(the turn direction from executions_info.csv for TURNING), group = subject. Columns per device: " +
	"x_acc,y_acc,z_acc (m/s^2), x_gyro,y_gyro,z_gyro (rad/s). Test split = subjects %s. " +
	"Source: Matey-Sanz, Casteleyn, Granell, \"Dataset of inertial measurements of smartphones and smartwatches for " +
	"human activity recognition\", Data in Brief 51 (2023) 109809; GitHub GeoTecINIT/sp-sw-har-dataset (DATA/, commit " +
	"1408d85a); Zenodo doi:10.5281/zenodo.8398688."

const harLicense = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/). Smartphone/smartwatch HAR data by " +
	"Miguel Matey-Sanz, Sven Casteleyn and Carlos Granell; windowed and resampled by mlecs."

// HARStats summarises an import.
type HARStats struct {
	Executions int
	Windows    int
	Skipped    int // executions skipped (too short, missing pair)
}

// ImportHAR converts src (the har-phone-watch folder, or its DATA folder)
// into an mlecs-dataset/1 directory at out: one sample per window with
// modalities phone and watch (timeseries CSV files, 6 channels each).
func ImportHAR(ctx context.Context, src, out string, opts ...HAROption) (*dataset.Dataset, HARStats, error) {
	cfg := harConfig{rate: 50, window: 100, hop: 50, testSubjects: DefaultHARTestSubjects(), workers: 2, log: slog.Default()}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, HARStats{}, err
		}
	}
	dataDir, err := harDataDir(src)
	if err != nil {
		return nil, HARStats{}, err
	}
	turns, err := readExecutionsInfo(filepath.Join(dataDir, "executions_info.csv"))
	if err != nil {
		return nil, HARStats{}, err
	}
	execs, err := listExecutions(dataDir, cfg.subjects)
	if err != nil {
		return nil, HARStats{}, err
	}
	desc := fmt.Sprintf(harDescription, cfg.rate, cfg.window, float64(cfg.window)/float64(cfg.rate), cfg.hop,
		float64(cfg.hop)/float64(cfg.rate), strings.Join(cfg.testSubjects, ", "))
	w, err := dataset.Create(out, dataset.Header{Name: "har-phone-watch", Description: desc, License: harLicense,
		Modalities: map[string]dataset.Modality{HARPhone: {Kind: dataset.KindTimeseries}, HARWatch: {Kind: dataset.KindTimeseries}}})
	if err != nil {
		return nil, HARStats{}, err
	}
	defer w.Abort()

	results := make([][]dataset.Sample, len(execs))
	errs := make([]error, len(execs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(cfg.workers, len(execs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = importExecution(execs[i], turns, cfg, w.Dir())
			}
		}()
	}
feed:
	for i := range execs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, HARStats{}, fmt.Errorf("import har: %w", err)
	}
	var st HARStats
	for i, e := range execs {
		if errs[i] != nil {
			return nil, HARStats{}, errs[i]
		}
		if len(results[i]) == 0 {
			cfg.log.Warn("har: execution yields no window", "execution", e.id)
			st.Skipped++
			continue
		}
		st.Executions++
		for _, s := range results[i] {
			if err := w.Add(s); err != nil {
				return nil, HARStats{}, fmt.Errorf("import har: %w", err)
			}
			st.Windows++
		}
	}
	d, err := w.Commit()
	if err != nil {
		return nil, HARStats{}, err
	}
	cfg.log.Info("har: imported", "out", out, "executions", st.Executions, "windows", st.Windows)
	return d, st, nil
}

// harDataDir accepts the dataset folder or its DATA subfolder.
func harDataDir(src string) (string, error) {
	for _, dir := range []string{filepath.Join(src, "DATA"), src} {
		if _, err := os.Stat(filepath.Join(dir, "executions_info.csv")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w: %s has neither DATA/executions_info.csv nor executions_info.csv", ErrSource, src)
}

// execution is one recording: a phone and a watch file.
type execution struct {
	id, subject  string // "s01_02", "s01"
	phone, watch string // paths
}

// listExecutions finds sXX/sXX_YY_sp.csv with its _sw.csv partner, sorted.
func listExecutions(dataDir string, only []string) ([]execution, error) {
	phones, err := filepath.Glob(filepath.Join(dataDir, "s[0-9]*", "s*_sp.csv"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSource, err)
	}
	slices.Sort(phones)
	var out []execution
	for _, p := range phones {
		id := strings.TrimSuffix(filepath.Base(p), "_sp.csv")
		subject, _, ok := strings.Cut(id, "_")
		if !ok || !isSubjectID(subject) {
			return nil, fmt.Errorf("%w: unexpected file name %s", ErrSource, p)
		}
		if len(only) > 0 && !slices.Contains(only, subject) {
			continue
		}
		watch := strings.TrimSuffix(p, "_sp.csv") + "_sw.csv"
		if _, err := os.Stat(watch); err != nil {
			return nil, fmt.Errorf("%w: %s has no watch partner: %v", ErrSource, p, err)
		}
		out = append(out, execution{id: id, subject: subject, phone: p, watch: watch})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no sXX/sXX_YY_sp.csv files under %s (subjects %v)", ErrSource, dataDir, only)
	}
	return out, nil
}
