package store

// SetReadAllBlocks sets how many blocks a request log page reads whole rather than walk
// an index, until restore is called: tests use it to take either path.
func SetReadAllBlocks(n int) (restore func()) {
	old := readAllBlocks
	readAllBlocks = n
	return func() { readAllBlocks = old }
}

// SetSQLitePeriodFactor sets how many times readAllBlocks an unfiltered period's
// blocks may be on SQLite for a value order's page to read them whole, until restore is
// called (1: as before periodBlocks; the benchmark compares).
func SetSQLitePeriodFactor(n int) (restore func()) {
	old := sqlitePeriodFactor
	sqlitePeriodFactor = n
	return func() { sqlitePeriodFactor = old }
}

// SetMaxBlockTags sets how many distinct values of a dimension a block is tagged with
// before it takes the wildcard, until restore is called.
func SetMaxBlockTags(n int) (restore func()) {
	old := maxBlockTags
	maxBlockTags = n
	return func() { maxBlockTags = old }
}

// SetMaxValueWalk sets how many blocks a value-ordered page reads before it gives up,
// until restore is called.
func SetMaxValueWalk(n int) (restore func()) {
	old := maxValueWalk
	maxValueWalk = n
	return func() { maxValueWalk = old }
}

// FromCursorPages returns how many request log pages walked a rare value's blocks from
// the cursor (each of its tag rows one event).
func FromCursorPages() int64 { return fromCursorPages.Load() }
