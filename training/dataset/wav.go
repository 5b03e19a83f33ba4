package dataset

import (
	"encoding/binary"
	"fmt"
	"math"
)

// maxWAVBytes bounds the bytes read for one WAV file (about 50 minutes of
// 44.1 kHz stereo).
const maxWAVBytes = 512 << 20

// PCM is decoded audio: interleaved samples in [-1, 1).
type PCM struct {
	Rate     int       // samples per second per channel
	Channels int       // 1 or 2
	Data     []float32 // len = frames * Channels, frame-interleaved
}

// Frames is the number of sample frames (samples per channel).
func (p PCM) Frames() int { return len(p.Data) / p.Channels }

// Mono averages the channels into one.
func (p PCM) Mono() []float32 {
	if p.Channels == 1 {
		return p.Data
	}
	n := p.Frames()
	out := make([]float32, n)
	inv := 1 / float32(p.Channels)
	for i := 0; i < n; i++ {
		var sum float32
		for c := 0; c < p.Channels; c++ {
			sum += p.Data[i*p.Channels+c]
		}
		out[i] = sum * inv
	}
	return out
}

// LoadWAV reads a WAV file; errors name the file.
func LoadWAV(path string) (PCM, error) {
	raw, err := readFileLimited(path, maxWAVBytes)
	if err != nil {
		return PCM{}, err
	}
	p, err := DecodeWAV(raw)
	if err != nil {
		return PCM{}, fmt.Errorf("wav %s: %w", path, err)
	}
	return p, nil
}

// wavFormat is the part of the "fmt " chunk we use.
type wavFormat struct {
	tag, channels, blockAlign, bits uint16
	rate                            uint32
}

// WAVE format tags.
const (
	wavTagPCM        = 1
	wavTagExtensible = 0xFFFE
)

// DecodeWAV parses a RIFF/WAVE byte stream holding 16-bit PCM, mono or
// stereo, any sample rate. It walks the chunk list with bounds checks (chunk
// sizes must fit in the RIFF body, odd-sized chunks are padded to even),
// skips chunks it does not need (LIST, fact, ...) and requires one "fmt " and
// one "data" chunk.
func DecodeWAV(raw []byte) (PCM, error) {
	if len(raw) < 12 {
		return PCM{}, fmt.Errorf("%w: %d bytes is too short for a RIFF header", ErrMalformed, len(raw))
	}
	switch string(raw[0:4]) {
	case "RIFF":
	case "RIFX", "RF64":
		return PCM{}, fmt.Errorf("%w: %s container (want little-endian RIFF)", ErrUnsupported, raw[0:4])
	default:
		return PCM{}, fmt.Errorf("%w: not a RIFF file", ErrMalformed)
	}
	if string(raw[8:12]) != "WAVE" {
		return PCM{}, fmt.Errorf("%w: RIFF type %q is not WAVE", ErrMalformed, raw[8:12])
	}
	riffSize := uint64(binary.LittleEndian.Uint32(raw[4:8]))
	if riffSize < 4 || 8+riffSize > uint64(len(raw)) {
		return PCM{}, fmt.Errorf("%w: RIFF size %d does not fit the %d-byte file (truncated?)", ErrMalformed, riffSize, len(raw))
	}
	end := 8 + int(riffSize)
	var (
		fmtChunk  *wavFormat
		dataChunk []byte
		haveData  bool
	)
	for pos := 12; pos < end; {
		if end-pos < 8 {
			break // a few stray trailing bytes (some writers miscount padding)
		}
		id := string(raw[pos : pos+4])
		size := uint64(binary.LittleEndian.Uint32(raw[pos+4 : pos+8]))
		body := pos + 8
		if size > uint64(end-body) {
			return PCM{}, fmt.Errorf("%w: chunk %q at offset %d claims %d bytes, only %d remain", ErrMalformed, id, pos, size, end-body)
		}
		chunk := raw[body : body+int(size)]
		switch id {
		case "fmt ":
			if fmtChunk != nil {
				return PCM{}, fmt.Errorf("%w: second \"fmt \" chunk at offset %d", ErrMalformed, pos)
			}
			f, err := parseWAVFormat(chunk)
			if err != nil {
				return PCM{}, err
			}
			fmtChunk = &f
		case "data":
			if haveData {
				return PCM{}, fmt.Errorf("%w: second \"data\" chunk at offset %d", ErrMalformed, pos)
			}
			dataChunk, haveData = chunk, true
		}
		// Chunks are word-aligned: an odd size is followed by one pad byte
		// (which a truncated last chunk may lack).
		pos = body + int(size) + int(size&1)
	}
	if fmtChunk == nil {
		return PCM{}, fmt.Errorf("%w: no \"fmt \" chunk", ErrMalformed)
	}
	if !haveData {
		return PCM{}, fmt.Errorf("%w: no \"data\" chunk", ErrMalformed)
	}
	return decodePCM16(*fmtChunk, dataChunk)
}

// parseWAVFormat reads a "fmt " chunk and checks it describes 16-bit PCM
// mono or stereo.
func parseWAVFormat(c []byte) (wavFormat, error) {
	if len(c) < 16 {
		return wavFormat{}, fmt.Errorf("%w: \"fmt \" chunk of %d bytes (want >= 16)", ErrMalformed, len(c))
	}
	le := binary.LittleEndian
	f := wavFormat{tag: le.Uint16(c[0:2]), channels: le.Uint16(c[2:4]), rate: le.Uint32(c[4:8]),
		blockAlign: le.Uint16(c[12:14]), bits: le.Uint16(c[14:16])}
	if f.tag == wavTagExtensible {
		// WAVE_FORMAT_EXTENSIBLE: cbSize(2) validBits(2) mask(4) GUID(16); the
		// GUID's first two bytes are the real format tag.
		if len(c) < 40 {
			return wavFormat{}, fmt.Errorf("%w: extensible \"fmt \" chunk of %d bytes (want >= 40)", ErrMalformed, len(c))
		}
		f.tag = le.Uint16(c[24:26])
	}
	switch {
	case f.tag != wavTagPCM:
		return wavFormat{}, fmt.Errorf("%w: WAV format tag %d (only PCM = 1)", ErrUnsupported, f.tag)
	case f.bits != 16:
		return wavFormat{}, fmt.Errorf("%w: %d-bit samples (only 16-bit)", ErrUnsupported, f.bits)
	case f.channels != 1 && f.channels != 2:
		return wavFormat{}, fmt.Errorf("%w: %d channels (only mono or stereo)", ErrUnsupported, f.channels)
	case f.rate == 0 || f.rate > 1_000_000:
		return wavFormat{}, fmt.Errorf("%w: sample rate %d Hz", ErrMalformed, f.rate)
	case f.blockAlign != 2*f.channels:
		return wavFormat{}, fmt.Errorf("%w: block align %d for %d channels of 16 bits", ErrMalformed, f.blockAlign, f.channels)
	}
	return f, nil
}

// decodePCM16 converts little-endian int16 frames to float32 in [-1, 1).
func decodePCM16(f wavFormat, data []byte) (PCM, error) {
	align := int(f.blockAlign)
	if len(data)%align != 0 {
		return PCM{}, fmt.Errorf("%w: data chunk of %d bytes is not a whole number of %d-byte frames", ErrMalformed, len(data), align)
	}
	if len(data) == 0 {
		return PCM{}, fmt.Errorf("%w: data chunk holds no frames", ErrMalformed)
	}
	out := make([]float32, len(data)/2)
	for i := range out {
		out[i] = float32(int16(binary.LittleEndian.Uint16(data[2*i:]))) / 32768
	}
	return PCM{Rate: int(f.rate), Channels: int(f.channels), Data: out}, nil
}

// EncodeWAV writes mono or interleaved stereo float samples as a 16-bit PCM
// WAV (used for fixtures and by tools that synthesise audio).
func EncodeWAV(p PCM) ([]byte, error) {
	if p.Channels != 1 && p.Channels != 2 || p.Rate <= 0 || len(p.Data)%p.Channels != 0 {
		return nil, fmt.Errorf("%w: %d channels at %d Hz with %d samples", ErrConfig, p.Channels, p.Rate, len(p.Data))
	}
	le := binary.LittleEndian
	dataLen := 2 * len(p.Data)
	out := make([]byte, 44+dataLen)
	copy(out[0:], "RIFF")
	le.PutUint32(out[4:], uint32(36+dataLen))
	copy(out[8:], "WAVEfmt ")
	le.PutUint32(out[16:], 16)
	le.PutUint16(out[20:], wavTagPCM)
	le.PutUint16(out[22:], uint16(p.Channels))
	le.PutUint32(out[24:], uint32(p.Rate))
	le.PutUint32(out[28:], uint32(p.Rate*2*p.Channels))
	le.PutUint16(out[32:], uint16(2*p.Channels))
	le.PutUint16(out[34:], 16)
	copy(out[36:], "data")
	le.PutUint32(out[40:], uint32(dataLen))
	for i, v := range p.Data {
		s := math.Round(float64(v) * 32768)
		if !(s >= -32768) { // also catches NaN
			s = -32768
		}
		s = min(32767, s)
		le.PutUint16(out[44+2*i:], uint16(int16(s)))
	}
	return out, nil
}
