package class

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// The words a student's name is made of: an adjective, an animal and a
// number from 10 to 99, such as "calm-otter-42". Nothing a student types
// becomes a name, so the record holds no personal data.
var (
	Adjectives = []string{"amber", "brave", "bright", "calm", "clever", "cosy", "eager", "fast", "gentle", "glad",
		"golden", "happy", "jolly", "keen", "kind", "lively", "lucky", "merry", "mild", "neat",
		"nimble", "proud", "quick", "quiet", "rapid", "shy", "silver", "sunny", "swift", "tidy", "warm", "witty"}
	Animals = []string{"badger", "bear", "beaver", "bison", "camel", "crane", "deer", "dolphin", "eagle", "falcon",
		"ferret", "finch", "fox", "gecko", "heron", "koala", "lemur", "lynx", "marten", "moose",
		"newt", "otter", "owl", "panda", "puffin", "rabbit", "raven", "seal", "stork", "swan", "tiger", "wren"}
)

// A name's number has two digits.
const (
	nameMin = 10
	nameMax = 99
)

// NewName returns a random student's name.
func NewName() string {
	pick := func(n int) int {
		v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
		if err != nil {
			panic("class: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
		}
		return int(v.Int64())
	}
	return fmt.Sprintf("%s-%s-%d", Adjectives[pick(len(Adjectives))], Animals[pick(len(Animals))], nameMin+pick(nameMax-nameMin+1))
}

// ValidName says whether s is a name NewName could give.
func ValidName(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) != 3 || !slices.Contains(Adjectives, parts[0]) || !slices.Contains(Animals, parts[1]) {
		return false
	}
	n, err := strconv.Atoi(parts[2])
	return err == nil && n >= nameMin && n <= nameMax && strconv.Itoa(n) == parts[2]
}
