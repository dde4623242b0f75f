package emulator

import (
	"crypto/sha256"
	"encoding/json"
	"time"

	"github.com/lightkeeper/lightkeeper/lighthouse"
)

// tokenEntry is a remembered ClientToken: what it created and for which
// parameters.
type tokenEntry struct {
	Region      string    `json:"Region"`
	Token       string    `json:"Token"`
	Fingerprint [32]byte  `json:"Fingerprint"`
	InstanceIds []string  `json:"InstanceIds"`
	Created     time.Time `json:"Created"`
}

func tokenKey(region, token string) string { return region + "\x00" + token }

// fingerprint hashes the parameters of a create that a token stands for:
// everything but ClientToken and DryRun, with InstanceCount defaulted. A
// login password counts only as being set: the fingerprint is kept in the
// state file, and an unsalted hash of a password is one a weak password
// can be recovered from.
func fingerprint(req lighthouse.CreateInstancesRequest, count uint64) [32]byte {
	req.ClientToken, req.DryRun, req.InstanceCount = "", false, count
	if lc := req.LoginConfiguration; lc != nil && lc.Password != "" {
		masked := *lc
		masked.Password = "set"
		req.LoginConfiguration = &masked
	}
	b, _ := json.Marshal(req)
	return sha256.Sum256(b)
}

// tokenOutcome is what a token lookup decided.
type tokenOutcome int

const (
	tokenNew      tokenOutcome = iota // no usable entry: create
	tokenReplay                       // answer with the entry's IDs
	tokenRejected                     // answer with IdempotentParameterMismatch
)

// lookupToken applies the window and the policies to a create carrying
// token. s.mu held.
func (s *Server) lookupToken(region, token string, fp [32]byte, now time.Time) (tokenOutcome, *tokenEntry) {
	if token == "" || s.cfg.TokenWindow < 0 {
		return tokenNew, nil
	}
	key := tokenKey(region, token)
	e, ok := s.tokens[key]
	if !ok {
		return tokenNew, nil
	}
	if now.Sub(e.Created) >= s.cfg.TokenWindow {
		delete(s.tokens, key)
		return tokenNew, nil
	}
	policy := TokenReturnOriginal
	switch {
	case e.Fingerprint != fp:
		policy = s.cfg.TokenMismatch
	case s.allGone(e.InstanceIds):
		policy = s.cfg.TokenGone
	}
	switch policy {
	case TokenReject:
		return tokenRejected, e
	case TokenCreateNew:
		delete(s.tokens, key)
		return tokenNew, nil
	}
	return tokenReplay, e
}

func (s *Server) allGone(ids []string) bool {
	for _, id := range ids {
		if _, ok := s.instances[id]; ok {
			return false
		}
	}
	return true
}

// rememberToken records what a create with token made, and drops expired
// entries now and then. s.mu held.
func (s *Server) rememberToken(region, token string, fp [32]byte, ids []string, now time.Time) {
	if token == "" || s.cfg.TokenWindow < 0 {
		return
	}
	if len(s.tokens) >= 1024 && len(s.tokens)&1023 == 0 {
		for k, e := range s.tokens {
			if now.Sub(e.Created) >= s.cfg.TokenWindow {
				delete(s.tokens, k)
			}
		}
	}
	s.tokens[tokenKey(region, token)] = &tokenEntry{Region: region, Token: token, Fingerprint: fp, InstanceIds: ids, Created: now}
}
