package tokenizer

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxVocabFile bounds what is read from encoder.json or vocab.bpe (GPT-2's
// are about 1 MB and 0.5 MB).
const maxVocabFile = 64 << 20

// Load reads encoder.json and vocab.bpe from dir (e.g. ../shared/data/gpt2-bpe,
// or a Hugging Face gpt2 folder's vocab.json and merges.txt renamed).
func Load(dir string, opts ...Option) (*Tokenizer, error) {
	enc, err := readCapped(filepath.Join(dir, "encoder.json"))
	if err != nil {
		return nil, err
	}
	bpe, err := readCapped(filepath.Join(dir, "vocab.bpe"))
	if err != nil {
		return nil, err
	}
	t, err := New(bytes.NewReader(enc), bytes.NewReader(bpe), opts...)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	return t, nil
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxVocabFile+1))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: read %s: %w", path, err)
	}
	if len(data) > maxVocabFile {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrBadVocab, path, maxVocabFile)
	}
	return data, nil
}

// New builds a Tokenizer from the contents of encoder.json (token -> id)
// and vocab.bpe (merges in rank order, an optional "#version" first line).
func New(encoderJSON, vocabBPE io.Reader, opts ...Option) (*Tokenizer, error) {
	cfg := config{cacheLimit: 1 << 16}
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	dec := newRuneToByte()
	t := &Tokenizer{cacheLimit: int64(cfg.cacheLimit)}
	if err := t.readEncoder(io.LimitReader(encoderJSON, maxVocabFile), dec); err != nil {
		return nil, err
	}
	if err := t.readMerges(io.LimitReader(vocabBPE, maxVocabFile), dec); err != nil {
		return nil, err
	}
	t.consistent = t.checkConsistent()
	t.checksum = t.contentHash()
	t.whole = t.selfMerging()
	return t, nil
}

// selfMerging returns the tokens that BPE turns back into themselves (all
// of GPT-2's but <|endoftext|>), the exact condition for encoding a piece
// equal to a token as that token without merging it.
func (t *Tokenizer) selfMerging() map[string]int32 {
	whole := make(map[string]int32, len(t.tokens))
	var word []int32
	for id, tok := range t.tokens {
		word = word[:0]
		for i := 0; i < len(tok); i++ {
			word = append(word, t.byteIDs[tok[i]])
		}
		if got := t.bpe(word); len(got) == 1 && got[0] == int32(id) {
			whole[tok] = int32(id)
		}
	}
	return whole
}

func (t *Tokenizer) readEncoder(r io.Reader, dec runeToByte) error {
	var raw map[string]int
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return fmt.Errorf("%w: encoder.json: %v", ErrBadVocab, err)
	}
	if len(raw) < 257 {
		return fmt.Errorf("%w: encoder.json has %d tokens, need at least the 256 bytes and %s", ErrBadVocab, len(raw), EndOfText)
	}
	t.tokens = make([]string, len(raw))
	seen := make([]bool, len(raw))
	t.ids = make(map[string]int32, len(raw))
	for tok, id := range raw {
		if id < 0 || id >= len(raw) || seen[id] {
			return fmt.Errorf("%w: encoder.json: id %d of %q is out of range or repeated (ids must be 0..%d)", ErrBadVocab, id, tok, len(raw)-1)
		}
		seen[id] = true
		b, ok := dec.decode(tok)
		if !ok {
			return fmt.Errorf("%w: encoder.json: token %q is not in GPT-2's byte alphabet", ErrBadVocab, tok)
		}
		t.tokens[id] = b
		t.ids[b] = int32(id)
	}
	eot, ok := t.ids[EndOfText]
	if !ok {
		return fmt.Errorf("%w: encoder.json has no %s token", ErrBadVocab, EndOfText)
	}
	t.eot = eot
	for b := 0; b < 256; b++ {
		id, ok := t.ids[string([]byte{byte(b)})]
		if !ok {
			return fmt.Errorf("%w: encoder.json lacks the token of byte 0x%02x", ErrBadVocab, b)
		}
		t.byteIDs[b] = id
	}
	return nil
}

func (t *Tokenizer) readMerges(r io.Reader, dec runeToByte) error {
	t.merges = make(map[uint64]merge, 50000)
	t.parts = make([][2]int32, len(t.tokens))
	for i := range t.parts {
		t.parts[i] = [2]int32{-1, -1}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if (line == 1 && strings.HasPrefix(text, "#version")) || text == "" {
			continue
		}
		fields := strings.Split(text, " ")
		if len(fields) != 2 || fields[0] == "" || fields[1] == "" {
			return fmt.Errorf("%w: vocab.bpe line %d: want two tokens separated by one space, got %q", ErrBadVocab, line, text)
		}
		var ids [3]int32
		for k, tok := range []string{fields[0], fields[1], fields[0] + fields[1]} {
			b, ok := dec.decode(tok)
			if !ok {
				return fmt.Errorf("%w: vocab.bpe line %d: %q is not in GPT-2's byte alphabet", ErrBadVocab, line, tok)
			}
			id, ok := t.ids[b]
			if !ok {
				return fmt.Errorf("%w: vocab.bpe line %d: %q is not in encoder.json", ErrBadVocab, line, tok)
			}
			ids[k] = id
		}
		key := pairKey(ids[0], ids[1])
		if _, dup := t.merges[key]; dup {
			return fmt.Errorf("%w: vocab.bpe line %d: merge %q repeated", ErrBadVocab, line, text)
		}
		t.merges[key] = merge{rank: int32(len(t.merges)), result: ids[2]}
		if t.parts[ids[2]][0] < 0 {
			t.parts[ids[2]] = [2]int32{ids[0], ids[1]}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: vocab.bpe line %d: %v", ErrBadVocab, line+1, err)
	}
	return nil
}

// checkConsistent reports whether every merge ranks after every merge that
// produces one of its parts, and no token is produced twice: the condition
// under which bpeHeap equals the reference loop. GPT-2's merges satisfy it.
func (t *Tokenizer) checkConsistent() bool {
	produced := make([]int32, len(t.tokens)) // rank+1 of the producing merge
	for _, m := range t.merges {
		if produced[m.result] != 0 {
			return false
		}
		produced[m.result] = m.rank + 1
	}
	for key, m := range t.merges {
		left, right := int32(key>>32), int32(uint32(key))
		if produced[left] > m.rank || produced[right] > m.rank {
			return false
		}
	}
	return true
}

// contentHash hashes tokens in id order and merges in rank order.
func (t *Tokenizer) contentHash() string {
	h := sha256.New()
	var n [4]byte
	for _, tok := range t.tokens {
		binary.LittleEndian.PutUint32(n[:], uint32(len(tok)))
		h.Write(n[:])
		h.Write([]byte(tok))
	}
	byRank := make([][2]int32, len(t.merges))
	for key, m := range t.merges {
		byRank[m.rank] = [2]int32{int32(key >> 32), int32(uint32(key))}
	}
	for _, p := range byRank {
		binary.LittleEndian.PutUint32(n[:], uint32(p[0]))
		h.Write(n[:])
		binary.LittleEndian.PutUint32(n[:], uint32(p[1]))
		h.Write(n[:])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
