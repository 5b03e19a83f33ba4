package dataset

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// Series normalisation modes (Config.SeriesNorm).
const (
	// NormFitted divides by per-channel statistics fitted on training
	// samples (Featurizer.Fit): keeps the differences in signal energy and
	// orientation between samples, which carry the class for activity data.
	NormFitted = "fitted"
	// NormSample z-scores each channel of each sample on its own.
	NormSample = "sample"
	// NormNone leaves the resampled values as they are.
	NormNone = "none"
)

// Config fixes the tensor shape of every non-text kind.
type Config struct {
	ImageSize int // images: [ImageSize][ImageSize][3]

	SampleRate int // audio is resampled to this rate (Hz) before the spectrogram
	FFTSize    int // audio: FFT length
	WinLength  int // audio: Hann window length
	Hop        int // audio: samples between frames
	MelBins    int // audio: [Frames][MelBins]
	Frames     int // audio: longer clips are cut, shorter ones padded with silence

	SeriesLength   int    // timeseries: [SeriesLength][channels]
	SeriesChannels int    // timeseries: expected columns; 0 infers them from the first sample
	SeriesNorm     string // NormFitted, NormSample or NormNone
}

// DefaultConfig: 32x32 images; 16 kHz audio, 25 ms windows, 10 ms hop, 40
// mel bins, 1 s (100 frames); 100-step series (2 s at 50 Hz) normalised with
// fitted statistics.
func DefaultConfig() Config {
	return Config{
		ImageSize:  32,
		SampleRate: 16000, FFTSize: 512, WinLength: 400, Hop: 160, MelBins: 40, Frames: 100,
		SeriesLength: 100, SeriesNorm: NormFitted,
	}
}

// Validate checks every field.
func (c Config) Validate() error {
	switch {
	case c.ImageSize < 1 || c.ImageSize > 1024:
		return fmt.Errorf("%w: image size %d (want 1..1024)", ErrConfig, c.ImageSize)
	case c.Frames < 1 || c.Frames > 100_000:
		return fmt.Errorf("%w: %d audio frames", ErrConfig, c.Frames)
	case c.SeriesLength < 1 || c.SeriesLength > 1_000_000:
		return fmt.Errorf("%w: series length %d", ErrConfig, c.SeriesLength)
	case c.SeriesChannels < 0 || c.SeriesChannels > maxSeriesColumns:
		return fmt.Errorf("%w: %d series channels", ErrConfig, c.SeriesChannels)
	case c.SeriesNorm != NormFitted && c.SeriesNorm != NormSample && c.SeriesNorm != NormNone:
		return fmt.Errorf("%w: series normalisation %q (want %s, %s or %s)", ErrConfig, c.SeriesNorm, NormFitted, NormSample, NormNone)
	}
	return c.melConfig().validate()
}

func (c Config) melConfig() MelConfig {
	return MelConfig{SampleRate: c.SampleRate, FFTSize: c.FFTSize, WinLength: c.WinLength, Hop: c.Hop,
		MelBins: c.MelBins, FMax: float64(c.SampleRate) / 2}
}

// Feature is one modality of one sample, ready for an encoder: Data for
// image, audio and timeseries (row-major, Shape as Featurizer.Shape), Text
// for text.
type Feature struct {
	Kind Kind
	Data []float32
	Text string
}

// Featurizer turns sample inputs into fixed-size tensors. After Fit (if
// needed) it is read-only and safe for concurrent use.
type Featurizer struct {
	d      *Dataset
	cfg    Config
	mel    *MelSpectrogram
	shapes map[string][]int
	stats  map[string]ChannelStats // fitted series statistics per modality
}

// NewFeaturizer validates cfg and fixes the shape of every modality of d.
// Timeseries channels are inferred from the first sample holding the
// modality when cfg.SeriesChannels is 0 (a modality no sample holds keeps
// 0 channels and cannot be featurised).
func NewFeaturizer(d *Dataset, cfg Config) (*Featurizer, error) {
	return newFeaturizer(d, cfg, nil)
}

// newFeaturizer is NewFeaturizer; with a non-nil onBad, samples whose series
// cannot be read while inferring channels are reported to it and skipped
// instead of failing (VerifyInputs lists every problem).
func newFeaturizer(d *Dataset, cfg Config, onBad func(Sample, error)) (*Featurizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mel, err := NewMelSpectrogram(cfg.melConfig())
	if err != nil {
		return nil, err
	}
	f := &Featurizer{d: d, cfg: cfg, mel: mel, shapes: map[string][]int{}, stats: map[string]ChannelStats{}}
	for _, name := range d.ModalityNames() {
		switch d.Modalities[name].Kind {
		case KindImage:
			f.shapes[name] = []int{cfg.ImageSize, cfg.ImageSize, 3}
		case KindAudio:
			f.shapes[name] = []int{cfg.Frames, cfg.MelBins}
		case KindTimeseries:
			ch := cfg.SeriesChannels
			if ch == 0 {
				if ch, err = f.inferChannels(name, onBad); err != nil {
					return nil, err
				}
			}
			f.shapes[name] = []int{cfg.SeriesLength, ch}
		case KindText:
			f.shapes[name] = nil
		}
	}
	return f, nil
}

// inferChannels reads the first sample holding modality name.
func (f *Featurizer) inferChannels(name string, onBad func(Sample, error)) (int, error) {
	for _, s := range f.d.Samples {
		if in, ok := s.Inputs[name]; ok {
			rows, err := f.seriesRows(in)
			if err != nil {
				err = fmt.Errorf("infer channels of %q from sample %q (line %d): %w", name, s.ID, s.Line, err)
				if onBad != nil {
					onBad(s, err)
					continue
				}
				return 0, err
			}
			return len(rows[0]), nil
		}
	}
	// No readable sample holds it: the width stays unknown (0) and using the
	// modality fails with a clear error; the other modalities still work.
	return 0, nil
}

// Config returns the configuration the featurizer was built with.
func (f *Featurizer) Config() Config { return f.cfg }

// Shape returns the tensor shape of modality name (nil for text or unknown).
func (f *Featurizer) Shape(name string) []int { return slices.Clone(f.shapes[name]) }

// Size is the number of float32 values in one tensor of modality name.
func (f *Featurizer) Size(name string) int {
	sh := f.shapes[name]
	if len(sh) == 0 {
		return 0
	}
	n := 1
	for _, d := range sh {
		n *= d
	}
	return n
}

// Stats returns the fitted statistics of a timeseries modality.
func (f *Featurizer) Stats(name string) (ChannelStats, bool) {
	s, ok := f.stats[name]
	return s, ok
}

// SetStats installs statistics fitted elsewhere (e.g. received with a model).
func (f *Featurizer) SetStats(name string, s ChannelStats) error {
	sh := f.shapes[name]
	if f.d.Modalities[name].Kind != KindTimeseries || len(sh) != 2 {
		return fmt.Errorf("%w: %q is not a timeseries modality", ErrConfig, name)
	}
	if len(s.Mean) != sh[1] || len(s.Std) != sh[1] {
		return fmt.Errorf("%w: stats for %d/%d channels, modality %q has %d", ErrConfig, len(s.Mean), len(s.Std), name, sh[1])
	}
	for _, v := range s.Std {
		if !(v > 0) {
			return fmt.Errorf("%w: non-positive std %g for %q", ErrConfig, v, name)
		}
	}
	f.stats[name] = ChannelStats{Mean: slices.Clone(s.Mean), Std: slices.Clone(s.Std)}
	return nil
}

// Fit computes per-channel statistics of every timeseries modality held by
// some of samples (pass the training samples a node holds). Not safe to
// call concurrently with Featurize.
func (f *Featurizer) Fit(ctx context.Context, samples []Sample) error {
	for _, name := range f.d.ModalityNames() {
		if f.d.Modalities[name].Kind != KindTimeseries {
			continue
		}
		acc := newStatsAccumulator(f.shapes[name][1])
		seen := 0
		for _, s := range samples {
			if err := ctx.Err(); err != nil {
				return err
			}
			in, ok := s.Inputs[name]
			if !ok {
				continue
			}
			x, err := f.series(in, name)
			if err != nil {
				return fmt.Errorf("fit %q: sample %q (line %d): %w", name, s.ID, s.Line, err)
			}
			acc.add(x)
			seen++
		}
		// A node may hold no sample of a modality: it stays unfitted, and
		// only featurising it fails.
		if seen > 0 {
			f.stats[name] = acc.stats()
		}
	}
	return nil
}

// Featurize returns modality name of sample s. It returns ErrAbsent when
// the sample lacks the modality; errors name the sample, line and file.
func (f *Featurizer) Featurize(s Sample, name string) (Feature, error) {
	m, ok := f.d.Modalities[name]
	if !ok {
		return Feature{}, fmt.Errorf("%w: %q", ErrUnknownModality, name)
	}
	in, ok := s.Inputs[name]
	if !ok {
		return Feature{}, fmt.Errorf("%w: sample %q has no %q", ErrAbsent, s.ID, name)
	}
	ft := Feature{Kind: m.Kind}
	var err error
	switch m.Kind {
	case KindText:
		ft.Text = in.Text
	case KindImage:
		ft.Data, err = LoadImage(f.d.Path(in), f.cfg.ImageSize, f.cfg.ImageSize)
	case KindAudio:
		ft.Data, err = f.audio(in)
	case KindTimeseries:
		ft.Data, err = f.normalisedSeries(in, name)
	}
	if err != nil {
		return Feature{}, fmt.Errorf("sample %q (line %d) input %q: %w", s.ID, s.Line, name, err)
	}
	return ft, nil
}

// audio: WAV -> mono -> resample -> log-mel -> [Frames][MelBins].
func (f *Featurizer) audio(in Input) ([]float32, error) {
	path := f.d.Path(in)
	pcm, err := LoadWAV(path)
	if err != nil {
		return nil, err
	}
	x, err := Resample(pcm.Mono(), pcm.Rate, f.cfg.SampleRate)
	if err != nil {
		return nil, fmt.Errorf("wav %s: %w", path, err)
	}
	// Only the samples that feed the kept frames need transforming.
	if need := (f.cfg.Frames-1)*f.cfg.Hop + f.cfg.FFTSize; len(x) > need {
		x = x[:need]
	}
	spec := f.mel.Compute(x)
	out := make([]float32, f.cfg.Frames*f.cfg.MelBins)
	n := copy(out, spec)
	silence := float32(math.Log(melFloor)) // log-mel of an all-zero frame
	for i := n; i < len(out); i++ {
		out[i] = silence
	}
	return out, nil
}

// series returns the input resampled to [SeriesLength][channels], checking
// the channel count.
func (f *Featurizer) series(in Input, name string) ([]float32, error) {
	rows, err := f.seriesRows(in)
	if err != nil {
		return nil, err
	}
	want := f.shapes[name][1]
	if want == 0 {
		return nil, fmt.Errorf("%w: channels of %q unknown (no readable sample held it when the featurizer was built): set SeriesChannels", ErrConfig, name)
	}
	if len(rows[0]) != want {
		where := "inline rows"
		if in.Path != "" {
			where = f.d.Path(in)
		}
		return nil, fmt.Errorf("%w: %s has %d channels, modality %q has %d", ErrMalformed, where, len(rows[0]), name, want)
	}
	return ResampleRows(rows, f.cfg.SeriesLength)
}

func (f *Featurizer) seriesRows(in Input) ([][]float64, error) {
	if in.Rows != nil {
		return in.Rows, nil
	}
	s, err := LoadCSV(f.d.Path(in))
	if err != nil {
		return nil, err
	}
	return s.Rows, nil
}

func (f *Featurizer) normalisedSeries(in Input, name string) ([]float32, error) {
	x, err := f.series(in, name)
	if err != nil {
		return nil, err
	}
	switch f.cfg.SeriesNorm {
	case NormFitted:
		st, ok := f.stats[name]
		if !ok {
			return nil, fmt.Errorf("%w: statistics of %q not fitted (call Fit on training samples or SetStats)", ErrConfig, name)
		}
		st.apply(x)
	case NormSample:
		sampleStats(x, f.shapes[name][1]).apply(x)
	}
	return x, nil
}
