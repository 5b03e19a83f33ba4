# Generates melref.wav and melref.json: a log-mel spectrogram computed with
# PyTorch's STFT (an FFT independent of gonum's) and torchaudio's HTK mel
# filterbank formula (norm=None), for TestLogMelMatchesTorch.
# Run with Debian's python: /usr/bin/python3 gen_melref.py
import json, math, wave
import numpy as np
import torch

sr, n_fft, win, hop, n_mels = 8000, 256, 200, 80, 24
t = np.arange(int(0.3 * sr)) / sr
# A chirp 200 -> 3000 Hz plus a steady 1234 Hz tone and a little noise.
x = 0.5 * np.sin(2 * np.pi * (200 * t + (2800 / 0.6) * t * t)) + 0.2 * np.sin(2 * np.pi * 1234 * t)
x += 0.01 * np.random.default_rng(7).standard_normal(len(t))
pcm = np.clip(np.round(x * 32768), -32768, 32767).astype('<i2')
with wave.open('melref.wav', 'wb') as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(sr); w.writeframes(pcm.tobytes())

sig = torch.tensor(pcm.astype(np.float64) / 32768)
spec = torch.stft(sig, n_fft=n_fft, hop_length=hop, win_length=win,
                  window=torch.hann_window(win, periodic=True, dtype=torch.float64),
                  center=False, return_complex=True)
power = (spec.abs() ** 2).numpy()  # [freq, frames]

def hz_to_mel(f): return 2595.0 * math.log10(1.0 + f / 700.0)
def mel_to_hz(m): return 700.0 * (10 ** (m / 2595.0) - 1.0)
n_freqs = n_fft // 2 + 1
all_freqs = np.linspace(0, sr // 2, n_freqs)
m_pts = np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2)
f_pts = np.array([mel_to_hz(m) for m in m_pts])
f_diff = f_pts[1:] - f_pts[:-1]
slopes = f_pts[None, :] - all_freqs[:, None]
down = -slopes[:, :-2] / f_diff[:-1]
up = slopes[:, 2:] / f_diff[1:]
fb = np.maximum(0, np.minimum(down, up))  # [freq, mels]
logmel = np.log(fb.T @ power + 1e-6).T    # [frames, mels]

json.dump({"sample_rate": sr, "fft_size": n_fft, "win_length": win, "hop": hop, "mel_bins": n_mels,
           "frames": logmel.shape[0], "logmel": [round(float(v), 6) for v in logmel.reshape(-1)]},
          open('melref.json', 'w'))
print(logmel.shape)
