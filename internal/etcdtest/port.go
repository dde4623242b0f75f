package etcdtest

import (
	"testing"

	"github.com/lightkeeper/lightkeeper/internal/freeport"
)

// FreeAddr returns 127.0.0.1 with a free port below the kernel's ephemeral
// range (freeport.Addr).
func FreeAddr(t testing.TB) string { return freeport.Addr(t) }
