// Package dataset reads, writes and featurises datasets in the mlecs-dataset/1
// format (DESIGN.md section 4): a directory holding dataset.json (name,
// licence, modalities and their kinds) and samples.jsonl (one sample a line,
// with inputs per modality, one or more target texts and an optional label).
//
// Open validates everything up front (JSON shape, kinds, splits, ids, that
// referenced files exist inside the directory) and reports every problem with
// the file and line it comes from, so that training never starts on a broken
// dataset. Unknown JSON fields are errors: a misspelt "lable" must not vanish.
// Writer builds a dataset in a temporary directory and renames it into place.
//
// Featurizer turns one modality of a sample into a fixed-size float32 tensor
// (row-major), text stays a string for the model's tokenizer:
//
//   - image: PNG or JPEG (grey, RGB, RGBA, palette) composited over black,
//     resized with bilinear filtering (golang.org/x/image/draw, widened when
//     shrinking) to [ImageSize][ImageSize][3], values in [0, 1].
//   - audio: 16-bit PCM WAV (hand-written RIFF parser), channels averaged,
//     resampled with a Hann-windowed sinc to SampleRate, then a log-mel
//     spectrogram: periodic Hann window of WinLength centred in an FFTSize
//     frame, no centre padding, power spectrum (gonum's real FFT), HTK mel
//     scale (2595 log10(1 + f/700)) triangular filters without area
//     normalisation, ln(power + 1e-6). This equals torchaudio's
//     MelSpectrogram(mel_scale="htk", norm=None, center=False), checked
//     against a PyTorch reference in the tests. Shape [Frames][MelBins]:
//     the first Frames frames, padded with silence (ln 1e-6) when shorter.
//   - timeseries: CSV (header row, numeric columns) or inline rows, resampled
//     to [SeriesLength][channels] (box-filter averaging when shrinking,
//     linear interpolation when stretching), normalised per channel with
//     statistics fitted on training samples (Fit), per sample, or not at all.
//
// Cache featurises a list of samples once, in parallel, so that epochs after
// the first read memory only.
package dataset
