package emulator

import "fmt"

// The account's money: Config.Balance is what the account may spend in
// all (0: unlimited), spent what creates, renewals and bundle changes
// charged so far, the difference what is left. Lighthouse has no action
// that reads the balance; a purchase it does not cover fails with
// FailedOperation.InsufficientBalance ("账户余额不足", errors.go), in the
// error lists of CreateInstances, ModifyInstancesBundle and
// RenewInstances.

// affordable reports whether the account can pay amount now. s.mu held.
func (s *Server) affordable(amount float64) bool {
	return s.balance <= 0 || s.spent+amount <= s.balance+1e-9
}

// insufficient is the refusal of a purchase of amount the account cannot
// pay. s.mu held.
func (s *Server) insufficient(action string, amount float64) *apiError {
	return errf(codeInsufficientBalance, "%s: the account balance %.2f CNY is insufficient for %.2f CNY; top up the account", action, max(s.balance-s.spent, 0), amount)
}

// Account is the emulated account's money, in CNY.
type Account struct {
	// Balance is what the account may spend in all; 0 means unlimited.
	Balance float64 `json:"balance"`
	// Spent is what creates, renewals and bundle changes charged (less
	// refunds of failed operations).
	Spent float64 `json:"spent"`
	// Available is Balance - Spent; 0 when Balance is unlimited.
	Available float64 `json:"available"`
	// Renewals counts automatic renewals, Expirations instances shut down
	// at their ExpiredTime, AutoRenewFailures instances among those whose
	// renew flag was NOTIFY_AND_AUTO_RENEW: their automatic renewal failed
	// for lack of balance.
	Renewals          int `json:"renewals"`
	Expirations       int `json:"expirations"`
	AutoRenewFailures int `json:"autoRenewFailures"`
	// ManualRenewals counts the RenewInstances operations that succeeded,
	// one per instance (RenewalLog lists them).
	ManualRenewals int `json:"manualRenewals"`
}

// Account returns the account's money and renewal counts at the
// emulator's current time.
func (s *Server) Account() Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now())
	a := Account{Balance: s.balance, Spent: s.spent, Renewals: s.renewals, Expirations: s.expirations, AutoRenewFailures: s.autoRenewFailures,
		ManualRenewals: len(s.renewed)}
	if s.balance > 0 {
		a.Available = max(s.balance-s.spent, 0)
	}
	return a
}

// SetBalance sets what the account may spend in all (Config.Balance); 0
// means unlimited. What was spent stays spent.
func (s *Server) SetBalance(balance float64) error {
	if !(balance >= 0) {
		return fmt.Errorf("emulator: balance %v is not a non-negative amount", balance)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now())
	s.balance = balance
	return nil
}

// SetAvailable sets the balance so that available is left to spend: a
// test that wants the next renewal refused sets less than its price.
func (s *Server) SetAvailable(available float64) error {
	if !(available >= 0) {
		return fmt.Errorf("emulator: available %v is not a non-negative amount", available)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now())
	// A balance of exactly 0 would mean unlimited; a tiny positive one
	// refuses every purchase.
	s.balance = max(s.spent+available, 1e-6)
	return nil
}
