package privacy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"math"
	"sync"
)

// Noise draws the fixed noise of each (counted thing, node). A draw is
// HMAC-SHA256(key, thing, node) turned into Laplace samples, so it is the
// same on every replica and after every restart (the key is kept in
// ClickHouse, see Keys), and nobody without the key can predict or remove
// it.
type Noise struct {
	key  []byte
	pool sync.Pool
}

// MinKeyLen is the shortest noise key accepted.
const MinKeyLen = 32

// NewNoise makes a Noise with key (at least MinKeyLen bytes).
func NewNoise(key []byte) (*Noise, error) {
	if len(key) < MinKeyLen {
		return nil, errors.New("privacy: the noise key must be at least 32 bytes")
	}
	n := &Noise{key: append([]byte(nil), key...)}
	n.pool.New = func() any { return hmac.New(sha256.New, n.key) }
	return n, nil
}

// nodeScale is the Laplace scale of one node's noise per unit of k: a
// standard deviation of k/2 per node (b = k / (2*sqrt 2)). An attacker
// who isolates one day of one value (two ranges that differ by that day)
// sees its count plus noise of standard deviation k/2 at least; the
// largest count they are after is k-1.
const nodeScale = 1 / (2 * math.Sqrt2)

// sum returns, for each of four fields, the total noise of thing over
// nodes ns at threshold k.
func (n *Noise) sum(thing []byte, ns []node, k int) [4]float64 {
	return n.sumBlock(thing, ns, k, 0)
}

// sumBlock is sum for four more fields of thing: block 0 is sum's, and
// each further block draws from its own HMAC input (the visit counters
// have two blocks of their own), so adding fields leaves the earlier
// fields' noise as it was.
func (n *Noise) sumBlock(thing []byte, ns []node, k int, block byte) [4]float64 {
	var out [4]float64
	if k <= 0 || len(ns) == 0 {
		return out
	}
	b := nodeScale * float64(k)
	m := n.pool.Get().(hash.Hash)
	defer n.pool.Put(m)
	var buf [64]byte
	var sum [sha256.Size]byte
	for _, nd := range ns {
		m.Reset()
		m.Write(thing)
		in := nd.appendTo(buf[:0])
		if block > 0 {
			in = append(in, 0, block)
		}
		m.Write(in)
		h := m.Sum(sum[:0])
		for f := range out {
			out[f] += laplace(binary.BigEndian.Uint64(h[f*8:]), b)
		}
	}
	return out
}

// laplace turns 64 random bits into a Laplace(0, b) sample by inverting
// its distribution function.
func laplace(x uint64, b float64) float64 {
	u := (float64(x>>11) + 0.5) / (1 << 53) // in (0, 1)
	if u < 0.5 {
		return b * math.Log(2*u)
	}
	return -b * math.Log(2-2*u)
}
