package dataset

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// rms is the root mean square of x[from:to].
func rms(x []float32, from, to int) float64 {
	var s float64
	for _, v := range x[from:to] {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(to-from))
}

func tone(rate int, freq float64, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(sinHz(freq, float64(i)/float64(rate)))
	}
	return x
}

func TestResample(t *testing.T) {
	cases := []struct {
		name       string
		from, to   int
		freq       float64
		passes     bool // in the pass band of the lower rate
		wantLength int
	}{
		{"down 44.1k->16k pass", 44100, 16000, 1000, true, 16000},
		{"down 44.1k->16k stop", 44100, 16000, 12000, false, 16000},
		{"up 8k->16k pass", 8000, 16000, 1000, true, 16000},
		{"down 48k->8k pass", 48000, 8000, 2500, true, 8000},
		{"down 48k->8k stop", 48000, 8000, 5000, false, 8000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			y, err := Resample(tone(tc.from, tc.freq, tc.from), tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if len(y) != tc.wantLength {
				t.Fatalf("length %d, want %d", len(y), tc.wantLength)
			}
			// Skip the edges where the kernel runs off the signal.
			lo, hi := len(y)/10, len(y)*9/10
			got := rms(y, lo, hi)
			if tc.passes {
				if math.Abs(got-1/math.Sqrt2) > 0.01 {
					t.Fatalf("pass-band rms %g, want %g", got, 1/math.Sqrt2)
				}
				// The waveform is the same tone at the new rate.
				want := tone(tc.to, tc.freq, len(y))
				var maxErr float64
				for i := lo; i < hi; i++ {
					maxErr = math.Max(maxErr, math.Abs(float64(y[i]-want[i])))
				}
				if maxErr > 0.01 {
					t.Fatalf("max error %g vs the ideal tone", maxErr)
				}
			} else if got > 0.01 {
				t.Fatalf("stop-band rms %g: aliasing", got)
			}
		})
	}
	if y, _ := Resample([]float32{1, 2}, 8000, 8000); len(y) != 2 || y[1] != 2 {
		t.Errorf("identity = %v", y)
	}
	if _, err := Resample(nil, 0, 8000); err == nil {
		t.Error("rate 0 accepted")
	}
}

// TestLogMelMatchesTorch compares against torch.stft + torchaudio's HTK
// filterbank (testdata/gen_melref.py) on a WAV written by Python's wave
// module.
func TestLogMelMatchesTorch(t *testing.T) {
	var ref struct {
		SampleRate int       `json:"sample_rate"`
		FFTSize    int       `json:"fft_size"`
		WinLength  int       `json:"win_length"`
		Hop        int       `json:"hop"`
		MelBins    int       `json:"mel_bins"`
		Frames     int       `json:"frames"`
		LogMel     []float64 `json:"logmel"`
	}
	raw, err := os.ReadFile("testdata/melref.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	pcm, err := LoadWAV("testdata/melref.wav")
	if err != nil {
		t.Fatal(err)
	}
	if pcm.Rate != ref.SampleRate {
		t.Fatalf("rate %d", pcm.Rate)
	}
	m, err := NewMelSpectrogram(MelConfig{SampleRate: ref.SampleRate, FFTSize: ref.FFTSize, WinLength: ref.WinLength, Hop: ref.Hop, MelBins: ref.MelBins})
	if err != nil {
		t.Fatal(err)
	}
	got := m.Compute(pcm.Mono())
	if m.NumFrames(pcm.Frames()) != ref.Frames || len(got) != len(ref.LogMel) {
		t.Fatalf("got %d values (%d frames), want %d (%d frames)", len(got), m.NumFrames(pcm.Frames()), len(ref.LogMel), ref.Frames)
	}
	var maxErr float64
	for i := range got {
		maxErr = math.Max(maxErr, math.Abs(float64(got[i])-ref.LogMel[i]))
	}
	// float32 output of values up to ~|14|.
	if maxErr > 1e-4 {
		t.Fatalf("max |log-mel - torch| = %g", maxErr)
	}
}

func TestLogMelTonePeak(t *testing.T) {
	cfg := MelConfig{SampleRate: 16000, FFTSize: 512, WinLength: 400, Hop: 160, MelBins: 40}
	m, err := NewMelSpectrogram(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, freq := range []float64{300, 1000, 4000} {
		spec := m.Compute(tone(16000, freq, 8000))
		frame := spec[10*cfg.MelBins : 11*cfg.MelBins]
		best := 0
		for b, v := range frame {
			if v > frame[best] {
				best = b
			}
		}
		// Centre of filter b on the mel scale.
		step := hzToMel(8000) / float64(cfg.MelBins+1)
		centre := melToHz(step * float64(best+1))
		if math.Abs(hzToMel(centre)-hzToMel(freq)) > step {
			t.Errorf("%g Hz tone peaks in bin %d centred at %.0f Hz", freq, best, centre)
		}
	}
	if got := m.NumFrames(100); got != 1 {
		t.Errorf("short signal: %d frames", got)
	}
	if got := m.NumFrames(16000); got != 1+(16000-512)/160 {
		t.Errorf("1 s: %d frames", got)
	}
}

func TestMelConfigValidate(t *testing.T) {
	good := MelConfig{SampleRate: 16000, FFTSize: 512, WinLength: 400, Hop: 160, MelBins: 40}
	bad := []func(*MelConfig){
		func(c *MelConfig) { c.SampleRate = 0 },
		func(c *MelConfig) { c.WinLength = 600 },
		func(c *MelConfig) { c.Hop = 0 },
		func(c *MelConfig) { c.MelBins = 1000 },
		func(c *MelConfig) { c.FMax = 9000 },
		func(c *MelConfig) { c.FMin, c.FMax = 500, 400 },
	}
	if _, err := NewMelSpectrogram(good); err != nil {
		t.Fatal(err)
	}
	for i, mutate := range bad {
		c := good
		mutate(&c)
		if _, err := NewMelSpectrogram(c); err == nil {
			t.Errorf("case %d accepted: %+v", i, c)
		}
	}
}

// An odd rate pair whose exact kernel table would be too large still
// resamples accurately (quantised phases).
func TestResampleOddRates(t *testing.T) {
	from, to := 999_983, 16_001 // both prime
	y, err := Resample(tone(from, 1000, from/10), from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := tone(to, 1000, len(y))
	for i := len(y) / 10; i < len(y)*9/10; i++ {
		if math.Abs(float64(y[i]-want[i])) > 0.01 {
			t.Fatalf("sample %d: %g, want %g", i, y[i], want[i])
		}
	}
}
