package metering

import (
	"slices"
	"sort"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
)

// Dimensions a usage query can group or filter by.
const (
	DimModel   = "model"
	DimKey     = "key"
	DimProject = "project"
	DimMember  = "member"
)

// Dimensions lists every dimension, in the order results are sorted.
var Dimensions = []string{DimModel, DimKey, DimProject, DimMember}

// Totals are the summed counters of a group of events.
type Totals struct {
	Requests          int64        `json:"requests"`
	InputTokens       int64        `json:"input_tokens"`
	CachedInputTokens int64        `json:"cached_input_tokens"`
	CacheWriteTokens  int64        `json:"cache_write_tokens"`
	OutputTokens      int64        `json:"output_tokens"`
	ReasoningTokens   int64        `json:"reasoning_tokens"`
	Cost              money.Amount `json:"cost"`
}

// Add adds o to t.
func (t *Totals) Add(o Totals) {
	t.Requests += o.Requests
	t.InputTokens += o.InputTokens
	t.CachedInputTokens += o.CachedInputTokens
	t.CacheWriteTokens += o.CacheWriteTokens
	t.OutputTokens += o.OutputTokens
	t.ReasoningTokens += o.ReasoningTokens
	t.Cost += o.Cost
}

// TotalsOf returns the totals of one event.
func TotalsOf(e Event) Totals {
	return Totals{Requests: 1, InputTokens: e.Usage.Input, CachedInputTokens: e.Usage.CachedInput,
		CacheWriteTokens: e.Usage.CacheWrite, OutputTokens: e.Usage.Output, ReasoningTokens: e.Usage.Reasoning, Cost: e.Cost}
}

// Filter narrows usage to some values of each dimension; an empty list means all.
type Filter struct {
	Models   []string
	Keys     []string
	Projects []string
	Members  []string
}

// RollupQuery asks the store for hourly rollup rows of one workspace in [Start, End).
type RollupQuery struct {
	WorkspaceID string
	Start, End  time.Time // whole UTC hours
	GroupBy     []string  // dimensions to keep; the others are summed over
	Filter
}

// RollupRow is one hour's totals for one combination of the grouped dimensions
// (dimensions not grouped are "").
type RollupRow struct {
	Hour    time.Time
	Model   string
	KeyID   string
	Project string
	Member  string
	Totals
}

// UsageQuery asks for usage in buckets.
type UsageQuery struct {
	WorkspaceID string
	Start, End  time.Time
	Bucket      time.Duration // time.Hour or 24*time.Hour
	Location    *time.Location
	GroupBy     []string
	Filter
}

// MaxBuckets bounds one usage query.
const MaxBuckets = 2000

// Validate checks and normalises q: it rounds Start down and End up to bucket boundaries
// in q.Location, and returns an *errs.Error for a bad range, bucket or group.
func (q *UsageQuery) Validate() error {
	if q.Location == nil {
		q.Location = time.UTC
	}
	if q.Bucket != time.Hour && q.Bucket != 24*time.Hour {
		return errs.E(errs.Invalid, "invalid_bucket", "bucket must be 1h or 1d")
	}
	if q.Start.IsZero() || q.End.IsZero() {
		return errs.E(errs.Invalid, "invalid_range", "start and end are required")
	}
	if !q.End.After(q.Start) {
		return errs.E(errs.Invalid, "invalid_range", "end must be after start")
	}
	if err := validGroups(q.GroupBy); err != nil {
		return err
	}
	q.Start = q.floor(q.Start)
	if f := q.floor(q.End); !f.Equal(q.End) {
		q.End = q.next(f)
	}
	if n := q.End.Sub(q.Start) / q.Bucket; n > MaxBuckets {
		return errs.E(errs.Invalid, "too_many_buckets", "the range holds %d buckets; at most %d are allowed", n, MaxBuckets)
	}
	return nil
}

// validGroups checks a group-by list: known dimensions, each once.
func validGroups(groupBy []string) error {
	seen := map[string]bool{}
	for _, g := range groupBy {
		if !slices.Contains(Dimensions, g) {
			return errs.E(errs.Invalid, "invalid_group_by", "cannot group by %q (use %s)", g, strings.Join(Dimensions, ", "))
		}
		if seen[g] {
			return errs.E(errs.Invalid, "invalid_group_by", "%q is grouped by twice", g)
		}
		seen[g] = true
	}
	return nil
}

func (q *UsageQuery) floor(t time.Time) time.Time {
	t = t.In(q.Location)
	if q.Bucket == time.Hour {
		return t.Truncate(time.Hour)
	}
	return DayOf(t, q.Location)
}

func (q *UsageQuery) next(t time.Time) time.Time {
	if q.Bucket == time.Hour {
		return t.Add(time.Hour)
	}
	return NextDay(t, q.Location)
}

// Result is one group's totals within a bucket.
type Result struct {
	Model   *string `json:"model,omitempty"`
	KeyID   *string `json:"key_id,omitempty"`
	Project *string `json:"project,omitempty"`
	Member  *string `json:"member,omitempty"`
	Totals
}

// Bucket is one period of a usage answer.
type Bucket struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Results []Result  `json:"results"`
}

// Rollup returns the store query that answers q (q must be validated).
func (q UsageQuery) Rollup() RollupQuery {
	return RollupQuery{WorkspaceID: q.WorkspaceID, Start: q.Start.UTC().Truncate(time.Hour),
		End: ceilHour(q.End.UTC()), GroupBy: q.GroupBy, Filter: q.Filter}
}

func ceilHour(t time.Time) time.Time {
	if f := t.Truncate(time.Hour); !f.Equal(t) {
		return f.Add(time.Hour)
	}
	return t
}

// Bucketize sums hourly rows into q's buckets. Every bucket of the range is present, empty
// ones included; results in a bucket are sorted by their dimensions. An hour belongs to
// the bucket that holds its start.
func (q UsageQuery) Bucketize(rows []RollupRow) []Bucket {
	var buckets []Bucket
	for s := q.Start; s.Before(q.End); s = q.next(s) {
		buckets = append(buckets, Bucket{Start: s, End: q.next(s), Results: []Result{}})
	}
	sums := make([]map[groupKey]*Totals, len(buckets))
	for _, r := range rows {
		i := sort.Search(len(buckets), func(i int) bool { return buckets[i].End.After(r.Hour) })
		if i == len(buckets) || r.Hour.Before(buckets[i].Start) {
			continue
		}
		if sums[i] == nil {
			sums[i] = map[groupKey]*Totals{}
		}
		addRow(sums[i], r)
	}
	for i, m := range sums {
		buckets[i].Results = groupResults(m, q.GroupBy)
	}
	return buckets
}

// groupKey is one combination of dimension values ("" for those not grouped).
type groupKey struct{ model, keyID, project, member string }

func addRow(m map[groupKey]*Totals, r RollupRow) {
	k := groupKey{r.Model, r.KeyID, r.Project, r.Member}
	t := m[k]
	if t == nil {
		t = &Totals{}
		m[k] = t
	}
	t.Add(r.Totals)
}

// sumResults sums rows by group, whatever their hour.
func sumResults(rows []RollupRow, groupBy []string) []Result {
	m := map[groupKey]*Totals{}
	for _, r := range rows {
		addRow(m, r)
	}
	return groupResults(m, groupBy)
}

// groupResults returns the groups of m as results sorted by their dimensions.
func groupResults(m map[groupKey]*Totals, groupBy []string) []Result {
	out := []Result{}
	keys := make([]groupKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		x, y := keys[a], keys[b]
		if x.model != y.model {
			return x.model < y.model
		}
		if x.keyID != y.keyID {
			return x.keyID < y.keyID
		}
		if x.project != y.project {
			return x.project < y.project
		}
		return x.member < y.member
	})
	grouped := func(d string) bool { return slices.Contains(groupBy, d) }
	for _, k := range keys {
		res := Result{Totals: *m[k]}
		if grouped(DimModel) {
			res.Model = &k.model
		}
		if grouped(DimKey) {
			res.KeyID = &k.keyID
		}
		if grouped(DimProject) {
			res.Project = &k.project
		}
		if grouped(DimMember) {
			res.Member = &k.member
		}
		out = append(out, res)
	}
	return out
}
