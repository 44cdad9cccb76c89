package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
)

var tokenPattern = regexp.MustCompile(`mul_[0-9a-f]{40}`)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
