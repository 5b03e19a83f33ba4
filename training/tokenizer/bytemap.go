package tokenizer

// byteToRune is GPT-2's reversible byte -> printable rune table
// (bytes_to_unicode in encoder.py): printable Latin-1 bytes map to
// themselves, the other 68 bytes to U+0100 onwards in byte order, so that
// every token of encoder.json is a string of printable characters.
func byteToRune() [256]rune {
	var table [256]rune
	printable := func(b int) bool {
		return ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF)
	}
	next := rune(256)
	for b := 0; b < 256; b++ {
		if printable(b) {
			table[b] = rune(b)
		} else {
			table[b] = next
			next++
		}
	}
	return table
}

// runeToByte inverts byteToRune; ok is false for runes outside the table.
type runeToByte map[rune]byte

func newRuneToByte() runeToByte {
	m := make(runeToByte, 256)
	for b, r := range byteToRune() {
		m[r] = byte(b)
	}
	return m
}

// decode turns a token as written in encoder.json / vocab.bpe into its raw bytes.
func (m runeToByte) decode(token string) (string, bool) {
	out := make([]byte, 0, len(token))
	for _, r := range token {
		b, ok := m[r]
		if !ok {
			return "", false
		}
		out = append(out, b)
	}
	return string(out), true
}
