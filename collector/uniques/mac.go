package uniques

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"fmt"
	"hash"
	"sync"
)

// macKey is an HMAC-SHA256 key reduced to the two SHA-256 states that
// follow the keyed pads: the state after (key XOR ipad) and after (key XOR
// opad). Each is as good as the key, so the key itself is not kept, and
// destroy overwrites both. Starting every MAC from these states is what
// makes a MAC free of allocations (hmac.New allocates five objects and
// hashes both pads again on every call).
type macKey struct {
	inner, outer []byte // marshalled sha256 states; nil once destroyed
}

// newMACKey derives the states from key (at most 64 bytes) and overwrites
// the pads it used. The caller overwrites key.
func newMACKey(key []byte) macKey {
	if len(key) > sha256.BlockSize {
		panic("uniques: MAC key longer than a SHA-256 block")
	}
	var ipad, opad [sha256.BlockSize]byte
	copy(ipad[:], key)
	copy(opad[:], key)
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	state := func(pad []byte) []byte {
		h := sha256.New()
		h.Write(pad)
		b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			panic("uniques: cannot save a SHA-256 state: " + err.Error())
		}
		h.Reset()
		return b
	}
	k := macKey{inner: state(ipad[:]), outer: state(opad[:])}
	clear(ipad[:])
	clear(opad[:])
	return k
}

// check reports whether k's states are SHA-256 states (k read from a
// handover file: start and finish must never fail on them).
func (k macKey) check() error {
	for _, st := range [][]byte{k.inner, k.outer} {
		if err := sha256.New().(encoding.BinaryUnmarshaler).UnmarshalBinary(st); err != nil {
			return fmt.Errorf("a key state is not a SHA-256 state: %w", err)
		}
	}
	return nil
}

// destroy overwrites the key states. The caller makes sure no MAC is being
// computed with them.
func (k *macKey) destroy() {
	clear(k.inner)
	clear(k.outer)
	k.inner, k.outer = nil, nil
}

// hasher computes one MAC. Hashers are pooled; between uses they hold no
// key material and no input: finish resets the hash and clears the buffers.
type hasher struct {
	h   hash.Hash
	n   int
	buf [256]byte // input is copied here so no caller's slice escapes to an interface call
	out [sha256.Size]byte
}

var hashers = sync.Pool{New: func() any { return &hasher{h: sha256.New()} }}

// start takes a hasher from the pool, keyed with k's inner state.
func start(k *macKey) *hasher {
	h := hashers.Get().(*hasher)
	if err := h.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(k.inner); err != nil {
		panic("uniques: cannot restore a SHA-256 state: " + err.Error())
	}
	return h
}

func (h *hasher) write(s string) {
	for len(s) > 0 {
		if h.n == len(h.buf) {
			h.h.Write(h.buf[:])
			h.n = 0
		}
		c := copy(h.buf[h.n:], s)
		h.n += c
		s = s[c:]
	}
}

func (h *hasher) writeBytes(b []byte) {
	for len(b) > 0 {
		if h.n == len(h.buf) {
			h.h.Write(h.buf[:])
			h.n = 0
		}
		c := copy(h.buf[h.n:], b)
		h.n += c
		b = b[c:]
	}
}

func (h *hasher) writeByte(c byte) {
	if h.n == len(h.buf) {
		h.h.Write(h.buf[:])
		h.n = 0
	}
	h.buf[h.n] = c
	h.n++
}

// finish completes HMAC(k, input), returns its first 64 bits (little
// endian) and puts the hasher back, wiped.
func (h *hasher) finish(k *macKey) uint64 {
	h.h.Write(h.buf[:h.n])
	inner := h.h.Sum(h.out[:0])
	if err := h.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(k.outer); err != nil {
		panic("uniques: cannot restore a SHA-256 state: " + err.Error())
	}
	h.h.Write(inner)
	sum := h.h.Sum(h.out[:0])
	v := binary.LittleEndian.Uint64(sum)
	h.h.Reset()
	clear(h.buf[:])
	clear(h.out[:])
	h.n = 0
	hashers.Put(h)
	return v
}
