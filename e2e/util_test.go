package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"regexp"
)

var tokenPattern = regexp.MustCompile(`mul_[0-9a-f]{40}`)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "daemonauth-e2e-bin-") }
