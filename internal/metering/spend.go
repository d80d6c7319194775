package metering

import (
	"context"
	"time"

	"spectra/internal/money"
)

// Cost returns the cost of a workspace's usage matching f in the UTC hours that start in
// [start, end): start is rounded down and end up to whole hours. It reads hourly rollups
// only (no buckets, no grouping), so it stays cheap for long ranges.
func (s *Service) Cost(ctx context.Context, workspaceID string, start, end time.Time, f Filter) (money.Amount, error) {
	q := RollupQuery{WorkspaceID: workspaceID, Start: start.UTC().Truncate(time.Hour), End: ceilHour(end.UTC()), Filter: f}
	rows, err := s.store.Rollups(ctx, q)
	if err != nil {
		return 0, err
	}
	var sum money.Amount
	for _, r := range rows {
		sum += r.Cost
	}
	return sum, nil
}
