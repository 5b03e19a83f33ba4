package tokenizer

import "errors"

var (
	// ErrBadVocab reports a malformed encoder.json or vocab.bpe.
	ErrBadVocab = errors.New("tokenizer: malformed vocabulary")
	// ErrUnknownID reports a token id outside the vocabulary.
	ErrUnknownID = errors.New("tokenizer: unknown token id")
	// ErrBadRestricted reports a malformed restricted-vocabulary file.
	ErrBadRestricted = errors.New("tokenizer: malformed restricted vocabulary")
	// ErrBaseMismatch reports a restricted vocabulary built on another base vocabulary.
	ErrBaseMismatch = errors.New("tokenizer: restricted vocabulary belongs to another base vocabulary")
	// ErrBadOption reports an invalid functional option.
	ErrBadOption = errors.New("tokenizer: invalid option")
)
