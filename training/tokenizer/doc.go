// Package tokenizer implements GPT-2's byte-level BPE tokenizer, exact to
// OpenAI's reference encoder (src/encoder.py): the same pre-tokenisation
// regular expression (implemented by hand, since Go's regexp has no
// lookahead), the same byte-to-unicode vocabulary, merges applied by rank.
// `<|endoftext|>` (50256) is recognised as a special token by Encode.
//
// Restricted narrows the vocabulary to the tokens a corpus uses, plus the
// end-of-text token and the 256 byte tokens so that any text stays
// encodable; small models embed only those compact ids.
//
// Decode returns the raw bytes the ids stand for: a prefix of a generated
// sequence can end inside a multi-byte UTF-8 character, and callers that
// need valid UTF-8 apply strings.ToValidUTF8 themselves.
package tokenizer
