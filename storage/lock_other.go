//go:build !unix

package storage

// On non-unix systems we rely on Badger's own directory lock (see Open).
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }

func (*dirLock) release() error { return nil }
