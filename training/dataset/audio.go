package dataset

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

// resampleZeros is the number of sinc zero crossings on each side of the
// resampling kernel: enough for > 60 dB stop-band with the Hann window.
const resampleZeros = 16

// resampleTable caps the size (in taps) of Resample's kernel table.
const resampleTable = 1 << 20

// Resample converts x sampled at rate from to rate to with a Hann-windowed
// sinc low-pass whose cutoff is the lower of the two Nyquist frequencies, so
// that downsampling does not alias. Output length: ceil(len(x)*to/from).
// Output i sits at input position i*from/to; with g = gcd(from, to) that
// position has only to/g distinct fractional parts, so the kernel is
// tabulated once per phase (for odd rate pairs whose table would exceed
// resampleTable taps, positions are rounded to fewer phases).
func Resample(x []float32, from, to int) ([]float32, error) {
	if from <= 0 || to <= 0 {
		return nil, fmt.Errorf("%w: resample %d Hz -> %d Hz", ErrConfig, from, to)
	}
	if from == to {
		return append([]float32(nil), x...), nil
	}
	n := int((int64(len(x))*int64(to) + int64(from) - 1) / int64(from))
	out := make([]float32, n)
	fc := math.Min(1, float64(to)/float64(from)) // cutoff as a fraction of the input Nyquist
	half := resampleZeros / fc                   // kernel half-width in input samples
	reach := int(math.Ceil(half))                // taps j = -reach..reach around floor(position)
	exact := to / gcd(from, to)
	phases := max(1, min(exact, resampleTable/(2*reach+1)))
	// kernel[p][j+reach] weighs input floor(pos)+j when frac(pos) = p/phases.
	kernel := make([][]float64, phases)
	for p := range kernel {
		frac := float64(p) / float64(phases)
		taps := make([]float64, 2*reach+1)
		for j := -reach; j <= reach; j++ {
			d := frac - float64(j)
			if math.Abs(d) < half {
				taps[j+reach] = fc * sinc(fc*d) * (0.5 + 0.5*math.Cos(math.Pi*d/half))
			}
		}
		kernel[p] = taps
	}
	for i := range out {
		// Position i*from/to = q + r/phases, with r in [0, phases).
		num := int64(i) * int64(from)
		q := int(num / int64(to))
		r := int((num % int64(to)) * int64(phases) / int64(to))
		if phases != exact {
			r = int(math.Round(float64(num%int64(to)) * float64(phases) / float64(to)))
			if r == phases {
				q, r = q+1, 0
			}
		}
		if q >= len(x) {
			q = len(x) - 1
		}
		taps := kernel[r]
		var acc, wsum float64
		for j := max(-reach, -q); j <= reach && q+j < len(x); j++ {
			w := taps[j+reach]
			acc += w * float64(x[q+j])
			wsum += w
		}
		// Normalising by the kernel sum keeps DC gain at 1 near the edges.
		if wsum != 0 {
			acc /= wsum
		}
		out[i] = float32(acc)
	}
	return out, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// MelConfig parameterises a log-mel spectrogram.
type MelConfig struct {
	SampleRate int     // Hz
	FFTSize    int     // FFT length (n_fft)
	WinLength  int     // Hann window length, <= FFTSize, centred in the FFT frame
	Hop        int     // samples between frames
	MelBins    int     // number of mel filters
	FMin, FMax float64 // filterbank range in Hz; FMax 0 means SampleRate/2
}

func (c MelConfig) validate() error {
	switch {
	case c.SampleRate <= 0:
		return fmt.Errorf("%w: mel sample rate %d", ErrConfig, c.SampleRate)
	case c.FFTSize < 2 || c.WinLength < 1 || c.WinLength > c.FFTSize:
		return fmt.Errorf("%w: FFT size %d, window %d", ErrConfig, c.FFTSize, c.WinLength)
	case c.Hop < 1:
		return fmt.Errorf("%w: hop %d", ErrConfig, c.Hop)
	case c.MelBins < 1 || c.MelBins > c.FFTSize/2+1:
		return fmt.Errorf("%w: %d mel bins for %d FFT bins", ErrConfig, c.MelBins, c.FFTSize/2+1)
	case c.FMin < 0 || c.FMax < 0 || c.FMax > float64(c.SampleRate)/2 || (c.FMax > 0 && c.FMin >= c.FMax):
		return fmt.Errorf("%w: mel range %g-%g Hz at %d Hz", ErrConfig, c.FMin, c.FMax, c.SampleRate)
	}
	return nil
}

// melFloor is added to mel power before the log so silence maps to a finite
// value, ln(1e-6) ~ -13.8.
const melFloor = 1e-6

// MelSpectrogram computes log-mel spectrogram frames. The filterbank is the
// HTK mel scale (mel = 2595 log10(1 + f/700)) with triangular filters and no
// area normalisation, identical to torchaudio's
// MelSpectrogram(mel_scale="htk", norm=None, power=2, center=False) with a
// periodic Hann window; values are ln(mel power + 1e-6). It is immutable and
// safe for concurrent use.
type MelSpectrogram struct {
	cfg     MelConfig
	window  []float64   // [FFTSize], Hann of WinLength zero-padded to the centre
	filters [][]float64 // [MelBins][FFTSize/2+1]
}

// NewMelSpectrogram validates cfg and precomputes the window and filterbank.
func NewMelSpectrogram(cfg MelConfig) (*MelSpectrogram, error) {
	if cfg.FMax == 0 {
		cfg.FMax = float64(cfg.SampleRate) / 2
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	window := make([]float64, cfg.FFTSize)
	off := (cfg.FFTSize - cfg.WinLength) / 2
	for i := 0; i < cfg.WinLength; i++ {
		window[off+i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(cfg.WinLength))
	}
	return &MelSpectrogram{cfg: cfg, window: window, filters: melFilterbank(cfg)}, nil
}

func hzToMel(f float64) float64 { return 2595 * math.Log10(1+f/700) }
func melToHz(m float64) float64 { return 700 * (math.Pow(10, m/2595) - 1) }

// melFilterbank builds triangular filters between MelBins+2 points evenly
// spaced on the mel scale, evaluated at the FFT bin frequencies.
func melFilterbank(c MelConfig) [][]float64 {
	nFreq := c.FFTSize/2 + 1
	lo, hi := hzToMel(c.FMin), hzToMel(c.FMax)
	pts := make([]float64, c.MelBins+2) // filter edges in Hz
	for i := range pts {
		pts[i] = melToHz(lo + (hi-lo)*float64(i)/float64(c.MelBins+1))
	}
	fb := make([][]float64, c.MelBins)
	for m := range fb {
		fb[m] = make([]float64, nFreq)
		for k := 0; k < nFreq; k++ {
			f := float64(c.SampleRate) / 2 * float64(k) / float64(nFreq-1)
			up := (f - pts[m]) / (pts[m+1] - pts[m])
			down := (pts[m+2] - f) / (pts[m+2] - pts[m+1])
			fb[m][k] = math.Max(0, math.Min(up, down))
		}
	}
	return fb
}

// NumFrames is the number of frames Compute returns for n samples (a signal
// shorter than one FFT frame is zero-padded to one frame).
func (m *MelSpectrogram) NumFrames(n int) int {
	if n <= m.cfg.FFTSize {
		return 1
	}
	return 1 + (n-m.cfg.FFTSize)/m.cfg.Hop
}

// Compute returns the log-mel spectrogram of x (at cfg.SampleRate), shape
// [NumFrames(len(x))][MelBins] row-major.
func (m *MelSpectrogram) Compute(x []float32) []float32 {
	n, nFreq, bins := m.cfg.FFTSize, m.cfg.FFTSize/2+1, m.cfg.MelBins
	frames := m.NumFrames(len(x))
	fft := fourier.NewFFT(n) // holds scratch space: one per call keeps m shareable
	seq := make([]float64, n)
	coef := make([]complex128, nFreq)
	power := make([]float64, nFreq)
	out := make([]float32, frames*bins)
	for t := 0; t < frames; t++ {
		start := t * m.cfg.Hop
		for i := range seq {
			v := 0.0
			if start+i < len(x) {
				v = float64(x[start+i])
			}
			seq[i] = v * m.window[i]
		}
		fft.Coefficients(coef, seq)
		for k, c := range coef {
			power[k] = real(c)*real(c) + imag(c)*imag(c)
		}
		row := out[t*bins : (t+1)*bins]
		for b, filt := range m.filters {
			var e float64
			for k, w := range filt {
				e += w * power[k]
			}
			row[b] = float32(math.Log(e + melFloor))
		}
	}
	return out
}
