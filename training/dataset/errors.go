package dataset

import "errors"

// Sentinel errors; every error returned by this package wraps one of them so
// that callers can tell a broken dataset from an I/O failure with errors.Is.
var (
	// ErrMalformed: a file is not valid JSON/CSV/PNG/WAV or breaks the format.
	ErrMalformed = errors.New("malformed")
	// ErrUnknownFormat: dataset.json names a format other than mlecs-dataset/1.
	ErrUnknownFormat = errors.New("unknown format")
	// ErrUnknownKind: a modality has a kind other than image, audio, timeseries, text.
	ErrUnknownKind = errors.New("unknown modality kind")
	// ErrUnknownModality: a sample's inputs name a modality dataset.json lacks.
	ErrUnknownModality = errors.New("unknown modality")
	// ErrMissingFile: an input references a file that does not exist.
	ErrMissingFile = errors.New("missing file")
	// ErrBadSplit: a split other than train or test.
	ErrBadSplit = errors.New("bad split")
	// ErrEmptyTarget: a sample without a non-empty target text.
	ErrEmptyTarget = errors.New("empty target")
	// ErrDuplicateID: two samples share an id.
	ErrDuplicateID = errors.New("duplicate sample id")
	// ErrInputType: inline data of the wrong type for the modality's kind.
	ErrInputType = errors.New("wrong input type")
	// ErrUnsupported: a valid file in a variant we do not decode (e.g. 24-bit WAV).
	ErrUnsupported = errors.New("unsupported")
	// ErrAbsent: the sample does not hold the requested modality.
	ErrAbsent = errors.New("modality absent")
	// ErrConfig: an invalid featurizer, cache or writer parameter.
	ErrConfig = errors.New("invalid config")
)
