package reconciletest_test

import (
	"testing"

	"github.com/lightkeeper/lightkeeper/reconcile/reconciletest"
)

func TestContractFake(t *testing.T) { reconciletest.RunContract(t, reconciletest.FakeEnv) }

func TestContractEmulator(t *testing.T) { reconciletest.RunContract(t, reconciletest.EmulatorEnv) }
