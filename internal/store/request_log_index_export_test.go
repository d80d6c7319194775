package store

import "context"

// IndexPages returns how many request log pages the value index has answered.
func IndexPages() int64 { return indexPages.Load() }

// SetForceIndex makes every page past the first of a value order try the value index
// (rather than choose between it and the blocks), until restore is called.
func SetForceIndex(on bool) (restore func()) {
	old := forceIndex
	forceIndex = on
	return func() { forceIndex = old }
}

// IndexRequestLogSteps runs n steps of the indexer of at most blocks blocks each (an
// indexer stopped part of the way), returning the blocks it read.
func (db *DB) IndexRequestLogSteps(ctx context.Context, n, blocks int) (int, error) {
	total := 0
	for range n {
		k, err := db.indexRequestLogStep(ctx, blocks)
		if err != nil {
			return total, err
		}
		total += k
	}
	return total, nil
}

// SetMaxTail sets how many blocks after the index's mark a page reads (of all
// workspaces, and of its own) before it answers from the blocks alone, until restore.
func SetMaxTail(all, own int) (restore func()) {
	oldAll, oldOwn := maxTailBlocks, maxTailOwn
	maxTailBlocks, maxTailOwn = all, own
	return func() { maxTailBlocks, maxTailOwn = oldAll, oldOwn }
}

// SetIndexFirstPages sets whether the first page of a value order is answered from the
// index, until restore is called.
func SetIndexFirstPages(on bool) (restore func()) {
	old := indexFirstPages
	indexFirstPages = on
	return func() { indexFirstPages = old }
}

// SetMinScanBudget sets the fewest index rows a filtered page scans before it turns to
// the blocks, until restore is called.
func SetMinScanBudget(n int64) (restore func()) {
	old := minScanBudget
	minScanBudget = n
	return func() { minScanBudget = old }
}

// SetForceTimeIndex makes a forced index page of a period read the period by time.
func SetForceTimeIndex(on bool) (restore func()) {
	old := forceTimeIndex
	forceTimeIndex = on
	return func() { forceTimeIndex = old }
}

// SetTimeIndexBlocks sets the most blocks of a period read from the index by time.
func SetTimeIndexBlocks(n int) (restore func()) {
	old := timeIndexBlocks
	timeIndexBlocks = map[Dialect]int{SQLite: n, Postgres: n}
	return func() { timeIndexBlocks = old }
}
