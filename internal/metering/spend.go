package metering

import (
	"context"
	"time"

	"spectra/internal/money"
)

// Cost returns the cost of a workspace's usage matching f in every UTC hour that
// overlaps [start, end): start is rounded down and end up to whole hours. The whole days
// of loc inside that range are read from the daily rollups when loc is the workspace's
// time zone (or has the same days), the rest from the hourly ones; nil loc reads hours
// only. No buckets, no grouping: it stays cheap for a month or all time.
func (s *Service) Cost(ctx context.Context, workspaceID string, start, end time.Time, loc *time.Location, f Filter) (money.Amount, error) {
	start, end = start.UTC().Truncate(time.Hour), ceilHour(end.UTC())
	if !start.Before(end) {
		return 0, nil
	}
	if loc == nil {
		loc = time.UTC
	}
	rows, err := s.rows(ctx, RollupQuery{WorkspaceID: workspaceID, Filter: f}, start, end, loc, true)
	if err != nil {
		return 0, err
	}
	var sum money.Amount
	for _, r := range rows {
		sum += r.Cost
	}
	return sum, nil
}
