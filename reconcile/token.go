package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// TokenPrefix starts every ClientToken lightkeeper sends; the version in it
// changes only if the derivation below ever does.
const TokenPrefix = "lk1-"

// Token is the ClientToken of the create of one incarnation of one slot:
// TokenPrefix and 48 hex digits of SHA-256 over (region, fleet, slot,
// incarnation), 52 ASCII characters, under the API's 64. It is a pure
// function of its arguments: never a time, a commit, a run or randomness, so
// every rerun, retry and concurrent runner sends the same token for the same
// slot and incarnation.
func Token(region, fleet string, slot, incarnation int) string {
	h := sha256.New()
	for _, part := range []string{"lightkeeper/v1", region, fleet, strconv.Itoa(slot), strconv.Itoa(incarnation)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return TokenPrefix + hex.EncodeToString(h.Sum(nil))[:48]
}
