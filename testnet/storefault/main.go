// Command storefault injects storage faults into a stopped or running testnet node's state volume, for
// the checks in testnet/storage_checks.sh. It is built statically and run in a throwaway container
// that mounts the node's volume (the testnet image has no shell):
//
//	storefault hold DIR                   block until SIGTERM: keeps a tmpfs volume mounted (docker
//	                                      unmounts, and so empties, a tmpfs volume no container uses)
//	storefault fill DIR                   write DIR/.storefault-fill until the file system is full
//	storefault free DIR                   remove that file again
//	storefault damage-checkpoint DB KIND  flip a byte of the newest KIND checkpoint's manifest in the
//	                                      stopped store DB (a node's <data dir>/db); prints "TERM ROUND"
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/mlecs/mlecs/storage/storagetest"
)

// fillName is the filler file; dot-named so that it cannot be mistaken for Badger's files.
const fillName = ".storefault-fill"

var errUsage = errors.New("usage: storefault hold DIR | fill DIR | free DIR | damage-checkpoint DB KIND")

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "storefault:", err)
		os.Exit(1)
	}
}

func run(args []string, w io.Writer) error {
	switch {
	case len(args) == 2 && args[0] == "hold":
		if _, err := os.Stat(args[1]); err != nil {
			return fmt.Errorf("hold: %w", err)
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		fmt.Fprintf(w, "holding %s\n", args[1])
		<-sig
		return nil
	case len(args) == 2 && args[0] == "fill":
		n, err := fill(filepath.Join(args[1], fillName))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "filled %s with %d bytes: no space left\n", args[1], n)
		return nil
	case len(args) == 2 && args[0] == "free":
		p := filepath.Join(args[1], fillName)
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("free: %w", err)
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("free: %w", err)
		}
		fmt.Fprintf(w, "freed %d bytes in %s\n", fi.Size(), args[1])
		return nil
	case len(args) == 3 && args[0] == "damage-checkpoint":
		term, round, err := storagetest.DamageNewestCheckpoint(args[1], args[2])
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%d %d\n", term, round)
		return nil
	}
	return errUsage
}

// fill appends 64 KiB blocks, then single pages, to path until the file system reports ENOSPC, so that
// less than a page is left; any other error is returned. The bytes are synced so they really occupy
// the space.
func fill(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("fill: %w", err)
	}
	defer f.Close()
	var total int64
	for _, size := range []int{64 << 10, 4 << 10, 512} {
		buf := make([]byte, size)
		for i := range buf {
			buf[i] = 0xa5
		}
		for {
			n, err := f.Write(buf)
			total += int64(n)
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			if err != nil {
				return total, fmt.Errorf("fill %s: %w", path, err)
			}
		}
	}
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		return total, fmt.Errorf("fill %s: sync: %w", path, err)
	}
	return total, nil
}
