package store

import "math/bits"

// keyFilter is a Bloom filter over event_ids' keys on SQLite: when it says a key is
// not there, it is not, and the ingest transaction skips looking it up (at 10 M stored
// events those lookups, random reads of a b-tree larger than the page cache, were a
// fifth of ingestion's time). It is scalable: when a part holds as many keys as it was
// sized for, keys go into a new part twice as large, so it never needs to be rebuilt
// as it grows. About 10 bits a key: under 1 % false positives, which only cost a lookup.
type keyFilter struct {
	parts []*filterPart
}

type filterPart struct {
	bits     []uint64
	m        uint64 // number of bits
	n, limit int
}

// filterBitsPerKey and filterProbes give a false-positive rate of about 0.8 %.
const (
	filterBitsPerKey = 10
	filterProbes     = 7
)

// newKeyFilter returns an empty filter sized for capacity keys before it grows.
func newKeyFilter(capacity int) *keyFilter {
	f := &keyFilter{}
	f.grow(max(capacity, 1<<16))
	return f
}

func (f *keyFilter) grow(limit int) {
	m := uint64(limit) * filterBitsPerKey
	f.parts = append(f.parts, &filterPart{bits: make([]uint64, (m+63)/64), m: m, limit: limit})
}

// probes derives the filter's two hashes from k (the keys are hashes already, but tests
// use others, so they are mixed again).
func probes(k int64) (h1, h2 uint64) {
	x := uint64(k) + 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	h1 = x ^ (x >> 31)
	h2 = (h1 >> 17) | (h1 << 47) | 1
	return h1, h2
}

// at maps a probe onto [0, m) without a division.
func (p *filterPart) at(h uint64) uint64 {
	hi, _ := bits.Mul64(h, p.m)
	return hi
}

// add puts k in the filter.
func (f *keyFilter) add(k int64) {
	p := f.parts[len(f.parts)-1]
	if p.n >= p.limit {
		f.grow(2 * p.limit)
		p = f.parts[len(f.parts)-1]
	}
	h1, h2 := probes(k)
	for i := range uint64(filterProbes) {
		b := p.at(h1 + i*h2)
		p.bits[b/64] |= 1 << (b % 64)
	}
	p.n++
}

// mayContain reports false only when k was never added.
func (f *keyFilter) mayContain(k int64) bool {
	h1, h2 := probes(k)
	for _, p := range f.parts {
		in := true
		for i := range uint64(filterProbes) {
			b := p.at(h1 + i*h2)
			if p.bits[b/64]&(1<<(b%64)) == 0 {
				in = false
				break
			}
		}
		if in {
			return true
		}
	}
	return false
}
