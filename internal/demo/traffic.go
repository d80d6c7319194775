package demo

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"spectra/internal/pricing"
)

// RNG streams: each day draws from its own generators, so any day can be generated
// again, alone and in parallel, with the same result.
const (
	streamVolume = 1 // the day's volume noise
	streamEvents = 2 // the day's events
)

func rng(seed int64, stream, day int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(stream)<<32|uint64(uint32(day))))
}

// gen is one generated request, before it is given ids.
type gen struct {
	ts        time.Time
	key       int
	model     int
	usage     pricing.Usage
	status    int
	latencyMS int64
	stream    bool
	estimated bool
	feature   string
}

// cell is one key's traffic in one hour window of a day.
type cell struct {
	key    int
	lo, hi time.Time
	weight float64
}

// traffic plans the demo's requests: how many on each day, and what each one is.
type traffic struct {
	cal     calendar
	seed    int64
	created []time.Time // per key
	revoked []time.Time // per key; zero when never
	cells   [][]cell    // per day
	cum     [][]float64 // per day: cumulative cell weights
	counts  []int       // events per day
}

// The rhythm of the period.
const (
	growth      = 1.8  // the last day is this much busier than the first
	volumeNoise = 0.08 // day-to-day spread of volume
	evalSpike   = 3.5  // research traffic on the evaluation day
	baseErrors  = 0.004
	incidentErr = 0.12 // prod error rate in the incident hour
)

func (t *traffic) evalDay() int     { return int(0.58 * float64(t.cal.days)) }
func (t *traffic) incidentDay() int { return int(0.7 * float64(t.cal.days)) }

func newTraffic(cal calendar, seed int64, total int) *traffic {
	t := &traffic{cal: cal, seed: seed}
	for i, k := range keys {
		t.created = append(t.created, cal.at(k.createDay, k.createHour, keyMinute(i)))
		var rev time.Time
		if k.revokeDay > 0 {
			rev = cal.at(k.revokeDay, k.revokeHour, 40)
		}
		t.revoked = append(t.revoked, rev)
	}
	weights := make([]float64, cal.days)
	for d := range cal.days {
		t.cells = append(t.cells, t.dayCells(d))
		var sum float64
		cum := make([]float64, len(t.cells[d]))
		for i, c := range t.cells[d] {
			sum += c.weight
			cum[i] = sum
		}
		t.cum = append(t.cum, cum)
		g := 1.0
		if cal.days > 1 {
			g = math.Pow(growth, float64(d)/float64(cal.days-1))
		}
		noise := math.Exp(volumeNoise * rng(seed, streamVolume, d).NormFloat64())
		weights[d] = g * noise * sum
	}
	t.counts = apportion(total, weights)
	return t
}

func keyMinute(i int) int { return (13*i+4)%50 + 3 }

// dayCells lists, for day d, every (key, hour) with traffic and its weight.
func (t *traffic) dayCells(d int) []cell {
	var out []cell
	weekend := t.cal.weekend(d)
	for _, s := range t.cal.slots(d) {
		lo, hi := s[0], s[1]
		hour := lo.In(t.cal.loc).Hour()
		frac := float64(hi.Sub(lo)) / float64(time.Hour)
		for i, k := range keys {
			if k.weight == 0 || lo.Before(t.created[i]) || !t.revoked[i].IsZero() && hi.After(t.revoked[i]) {
				continue
			}
			w := k.weight * k.hours[hour] / k.hours.sum() * frac
			if weekend {
				w *= k.weekend
			}
			if k.research && d == t.evalDay() {
				w *= evalSpike
			}
			out = append(out, cell{key: i, lo: lo, hi: hi, weight: w})
		}
	}
	return out
}

func (p *profile) sum() float64 {
	var s float64
	for _, v := range p {
		s += v
	}
	return s
}

// apportion splits total into whole counts proportional to weights (largest
// remainder), giving every day with any weight at least one event when total allows.
func apportion(total int, weights []float64) []int {
	counts := make([]int, len(weights))
	var sum float64
	for _, w := range weights {
		sum += w
	}
	if sum == 0 || total <= 0 {
		return counts
	}
	type rem struct {
		i int
		r float64
	}
	rems := make([]rem, len(weights))
	given := 0
	for i, w := range weights {
		exact := float64(total) * w / sum
		counts[i] = int(exact)
		given += counts[i]
		rems[i] = rem{i, exact - float64(counts[i])}
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for j := 0; given < total; j++ {
		counts[rems[j%len(rems)].i]++
		given++
	}
	if total >= len(weights) {
		for i := range counts {
			if counts[i] == 0 && weights[i] > 0 {
				big := 0
				for j := range counts {
					if counts[j] > counts[big] {
						big = j
					}
				}
				counts[big]--
				counts[i]++
			}
		}
	}
	return counts
}

// day generates day d's requests, in time order.
func (t *traffic) day(d int) []gen {
	r := rng(t.seed, streamEvents, d)
	cells, cum := t.cells[d], t.cum[d]
	out := make([]gen, 0, t.counts[d])
	if len(cells) == 0 {
		return out
	}
	total := cum[len(cum)-1]
	incident := d == t.incidentDay()
	for range t.counts[d] {
		c := cells[min(sort.SearchFloat64s(cum, r.Float64()*total), len(cells)-1)]
		ts := c.lo.Add(time.Duration(r.Int64N(int64(c.hi.Sub(c.lo)/time.Microsecond))) * time.Microsecond)
		errRate := baseErrors
		if incident && keys[c.key].project == "prod" && c.lo.In(t.cal.loc).Hour() == 14 {
			errRate = incidentErr
		}
		out = append(out, request(r, c.key, ts, errRate))
	}
	slices.SortFunc(out, func(a, b gen) int { return a.ts.Compare(b.ts) })
	return out
}

func pick(r *rand.Rand, shares []modelShare) int {
	x := r.Float64()
	for _, s := range shares {
		if x < s.share {
			return s.model
		}
		x -= s.share
	}
	return shares[len(shares)-1].model
}

// lognormal draws a count with the given median and spread, within [lo, hi].
func lognormal(r *rand.Rand, median, sigma float64, lo, hi int64) int64 {
	v := int64(median * math.Exp(sigma*r.NormFloat64()))
	return max(lo, min(hi, v))
}

func between(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// request makes one request of key k at ts.
func request(r *rand.Rand, k int, ts time.Time, errRate float64) gen {
	kp := keys[k]
	m := pick(r, kp.models)
	sh := shapes[m]
	g := gen{ts: ts, key: k, model: m, status: 200}
	if kp.source == "api" {
		g.status = 0
	}
	if sh.kind != embedding {
		g.stream = r.Float64() < kp.stream
	}
	if len(kp.features) > 0 {
		g.feature = kp.features[min(int(r.ExpFloat64()*1.2), len(kp.features)-1)]
	}
	u := &g.usage
	u.Input = lognormal(r, sh.inMedian*kp.inputScale, sh.inSigma, 8, 200_000)
	if sh.kind != embedding {
		u.Output = lognormal(r, sh.outMedian, sh.outSigma, 1, 32_000)
	}
	if sh.kind == reasoning {
		u.Reasoning = int64(float64(u.Output) * between(r, 0.45, 0.85))
	}
	if u.Input >= 1024 && r.Float64() < sh.cacheHit {
		u.CachedInput = int64(float64(u.Input)*between(r, 0.4, 0.95)) / 128 * 128
	}
	if r.Float64() < sh.cacheWrite {
		u.CacheWrite = lognormal(r, 3000, 0.6, 1024, 50_000)
	}
	switch {
	case g.status != 0 && r.Float64() < errRate:
		g.status = []int{429, 500, 502, 503}[r.IntN(4)]
		g.usage = pricing.Usage{}
		g.latencyMS = int64(between(r, 80, 2500))
		return g
	case g.stream && r.Float64() < 0.004:
		// The client went away mid-stream: Spectra counted what was sent.
		g.status, g.estimated = 499, true
		u.Output = max(1, int64(float64(u.Output)*between(r, 0.1, 0.6)))
		u.Reasoning = min(u.Reasoning, u.Output)
	case g.stream && r.Float64() < 0.03:
		g.estimated = true // the upstream reported no usage for this stream
	}
	if g.status == 0 {
		return g // ingested through the API: no gateway fields
	}
	if sh.kind == embedding {
		g.latencyMS = 40 + u.Input/60 + int64(r.ExpFloat64()*30)
	} else {
		g.latencyMS = int64(sh.firstTokenMS*math.Exp(0.35*r.NormFloat64()) + float64(u.Output)*sh.msPerTk*math.Exp(0.25*r.NormFloat64()))
	}
	return g
}
