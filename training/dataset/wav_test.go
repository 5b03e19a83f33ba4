package dataset

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// chunk is one RIFF chunk: id and body (padding is added by riff).
type chunk struct {
	id   string
	body []byte
}

// riff assembles a RIFF/WAVE file from chunks, padding odd bodies.
func riff(chunks ...chunk) []byte {
	out := []byte("RIFF\x00\x00\x00\x00WAVE")
	for _, c := range chunks {
		out = append(out, c.id...)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(c.body)))
		out = append(out, c.body...)
		if len(c.body)%2 == 1 {
			out = append(out, 0)
		}
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

// fmtBody is a 16-byte "fmt " body.
func fmtBody(tag, channels uint16, rate uint32, bits uint16) []byte {
	le := binary.LittleEndian
	b := le.AppendUint16(nil, tag)
	b = le.AppendUint16(b, channels)
	b = le.AppendUint32(b, rate)
	b = le.AppendUint32(b, rate*uint32(channels)*uint32(bits)/8)
	b = le.AppendUint16(b, channels*bits/8)
	return le.AppendUint16(b, bits)
}

func pcm16(vs ...int16) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}

func TestDecodeWAV(t *testing.T) {
	extensible := append(fmtBody(wavTagExtensible, 2, 44100, 16), 22, 0, 16, 0, 3, 0, 0, 0)
	extensible = append(extensible, 1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71) // KSDATAFORMAT_SUBTYPE_PCM
	cases := []struct {
		name     string
		raw      []byte
		rate, ch int
		mono     []float32
	}{
		{"mono", riff(chunk{"fmt ", fmtBody(1, 1, 8000, 16)}, chunk{"data", pcm16(0, 16384, -32768, 32767)}), 8000, 1,
			[]float32{0, 0.5, -1, 32767.0 / 32768}},
		{"stereo averaged", riff(chunk{"fmt ", fmtBody(1, 2, 22050, 16)}, chunk{"data", pcm16(16384, 0, -16384, -16384)}), 22050, 2,
			[]float32{0.25, -0.5}},
		{"extensible", riff(chunk{"fmt ", extensible}, chunk{"data", pcm16(8192, 8192)}), 44100, 2, []float32{0.25}},
		{"odd LIST chunk padded before data", riff(chunk{"fmt ", fmtBody(1, 1, 16000, 16)}, chunk{"LIST", []byte("abc")}, chunk{"data", pcm16(100)}), 16000, 1,
			[]float32{100.0 / 32768}},
		{"data before fmt", riff(chunk{"data", pcm16(-100)}, chunk{"fmt ", fmtBody(1, 1, 16000, 16)}), 16000, 1, []float32{-100.0 / 32768}},
		{"trailing junk after RIFF body", append(riff(chunk{"fmt ", fmtBody(1, 1, 8000, 16)}, chunk{"data", pcm16(1)}), "junk"...), 8000, 1, []float32{1.0 / 32768}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodeWAV(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if p.Rate != tc.rate || p.Channels != tc.ch {
				t.Fatalf("rate %d ch %d", p.Rate, p.Channels)
			}
			m := p.Mono()
			if len(m) != len(tc.mono) {
				t.Fatalf("mono %v, want %v", m, tc.mono)
			}
			for i := range m {
				if !near(m[i], tc.mono[i], 1e-7) {
					t.Fatalf("mono %v, want %v", m, tc.mono)
				}
			}
		})
	}
}

func TestDecodeWAVErrors(t *testing.T) {
	good := riff(chunk{"fmt ", fmtBody(1, 1, 8000, 16)}, chunk{"data", pcm16(1, 2)})
	overClaim := bytesWith(good, 40, binary.LittleEndian.AppendUint32(nil, 1000)) // data size
	riffTooBig := bytesWith(good, 4, binary.LittleEndian.AppendUint32(nil, 1<<30))
	cases := []struct {
		name     string
		raw      []byte
		sentinel error
		want     string
	}{
		{"empty", nil, ErrMalformed, "too short"},
		{"not riff", []byte("OggS0000WAVEfmt "), ErrMalformed, "not a RIFF"},
		{"rifx", []byte("RIFX\x04\x00\x00\x00WAVE"), ErrUnsupported, "RIFX"},
		{"not wave", []byte("RIFF\x04\x00\x00\x00AVI "), ErrMalformed, "not WAVE"},
		{"riff size beyond file", riffTooBig, ErrMalformed, "truncated"},
		{"chunk size beyond riff", overClaim, ErrMalformed, "claims 1000 bytes"},
		{"truncated file", good[:len(good)-1], ErrMalformed, "RIFF size"},
		{"no fmt", riff(chunk{"data", pcm16(1)}), ErrMalformed, "no \"fmt \""},
		{"no data", riff(chunk{"fmt ", fmtBody(1, 1, 8000, 16)}), ErrMalformed, "no \"data\""},
		{"empty data", riff(chunk{"fmt ", fmtBody(1, 1, 8000, 16)}, chunk{"data", nil}), ErrMalformed, "no frames"},
		{"partial frame", riff(chunk{"fmt ", fmtBody(1, 2, 8000, 16)}, chunk{"data", pcm16(1, 2, 3)}), ErrMalformed, "whole number"},
		{"short fmt", riff(chunk{"fmt ", []byte{1, 0, 1, 0}}, chunk{"data", pcm16(1)}), ErrMalformed, "fmt"},
		{"two fmt", riff(chunk{"fmt ", fmtBody(1, 1, 8000, 16)}, chunk{"fmt ", fmtBody(1, 1, 8000, 16)}, chunk{"data", pcm16(1)}), ErrMalformed, "second"},
		{"24 bit", riff(chunk{"fmt ", fmtBody(1, 1, 8000, 24)}, chunk{"data", []byte{1, 2, 3}}), ErrUnsupported, "24-bit"},
		{"float", riff(chunk{"fmt ", fmtBody(3, 1, 8000, 32)}, chunk{"data", pcm16(1, 2)}), ErrUnsupported, "tag 3"},
		{"6 channels", riff(chunk{"fmt ", fmtBody(1, 6, 8000, 16)}, chunk{"data", pcm16(1, 2, 3, 4, 5, 6)}), ErrUnsupported, "6 channels"},
		{"zero rate", riff(chunk{"fmt ", fmtBody(1, 1, 0, 16)}, chunk{"data", pcm16(1)}), ErrMalformed, "sample rate"},
		{"bad block align", riff(chunk{"fmt ", bytesWith(fmtBody(1, 1, 8000, 16), 12, []byte{4, 0})}, chunk{"data", pcm16(1, 2)}), ErrMalformed, "block align"},
		{"short extensible", riff(chunk{"fmt ", fmtBody(wavTagExtensible, 1, 8000, 16)}, chunk{"data", pcm16(1)}), ErrMalformed, "extensible"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeWAV(tc.raw)
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.sentinel, tc.want)
			}
		})
	}
}

// bytesWith returns a copy of b with patch written at off.
func bytesWith(b []byte, off int, patch []byte) []byte {
	out := append([]byte(nil), b...)
	copy(out[off:], patch)
	return out
}

func TestLoadWAVNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broken.wav")
	mustWrite(t, path, []byte("RIFF\x00\x00"))
	_, err := LoadWAV(path)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
	if _, err := LoadWAV(filepath.Join(t.TempDir(), "absent.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("absent: %v", err)
	}
}

func TestEncodeWAVRoundTrip(t *testing.T) {
	in := PCM{Rate: 11025, Channels: 2, Data: []float32{0, 0.5, -0.25, -1, 0.999, 2, -3}[:6]}
	raw, err := EncodeWAV(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeWAV(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0.5, -0.25, -1, 0.999, 32767.0 / 32768}
	for i := range want {
		if !near(out.Data[i], want[i], 1.0/32768) {
			t.Fatalf("got %v, want %v", out.Data, want)
		}
	}
	if _, err := EncodeWAV(PCM{Rate: 8000, Channels: 3, Data: make([]float32, 3)}); !errors.Is(err, ErrConfig) {
		t.Errorf("3 channels: %v", err)
	}
}

// FuzzWAV: the parser never panics, and what it accepts is consistent.
func FuzzWAV(f *testing.F) {
	f.Add(riff(chunk{"fmt ", fmtBody(1, 1, 8000, 16)}, chunk{"data", pcm16(1, -2, 3)}))
	f.Add(riff(chunk{"fmt ", fmtBody(1, 2, 44100, 16)}, chunk{"LIST", []byte("x")}, chunk{"data", pcm16(1, 2)}))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEfmt \xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := DecodeWAV(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error without sentinel: %v", err)
			}
			return
		}
		if p.Channels != 1 && p.Channels != 2 || p.Rate <= 0 || len(p.Data) == 0 || len(p.Data)%p.Channels != 0 {
			t.Fatalf("inconsistent PCM: rate %d ch %d n %d", p.Rate, p.Channels, len(p.Data))
		}
		if 2*len(p.Data) > len(raw) {
			t.Fatalf("%d samples from %d bytes", len(p.Data), len(raw))
		}
		for _, v := range p.Mono() {
			if v < -1 || v >= 1 {
				t.Fatalf("sample %g out of range", v)
			}
		}
	})
}
