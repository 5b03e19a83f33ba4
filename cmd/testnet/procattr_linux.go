package testnet

import "syscall"

// sysProcAttr makes a daemon receive SIGTERM if the testnet process dies without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
