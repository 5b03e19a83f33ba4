// Package importer turns the raw public datasets shipped with mlecs (HAR
// phone+watch, emoji) into mlecs-dataset/1 directories. Each importer is
// deterministic (same source, same options: byte-identical samples.jsonl),
// writes atomically through dataset.Writer and records the source's licence
// and attribution in dataset.json.
package importer

import "errors"

// Sentinel errors.
var (
	// ErrSource: the source directory is missing files or they are malformed.
	ErrSource = errors.New("bad source data")
	// ErrOption: an invalid importer option.
	ErrOption = errors.New("invalid option")
)
