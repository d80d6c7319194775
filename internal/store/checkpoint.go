package store

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// SQLite checkpoints (copying the write-ahead log back into the database file) run on a
// connection of their own, in the background, instead of inside the commit that crosses
// wal_autocheckpoint: on the one write connection they were about a tenth of ingestion's
// time, and everything else waited for them. A PASSIVE checkpoint does not block the
// writer, so the two proceed on two cores.
//
// A log that keeps growing under continuous writes (a passive checkpoint never quite
// catches up, and the log restarts only once it has) is bounded by the write
// connection's own wal_autocheckpoint, set higher than usual: when the log passes it,
// the committing writer checkpoints what is left — little, since the background
// checkpointer has copied most of it — and the next transaction starts the log over.

// walAutocheckpointPages is the write connection's wal_autocheckpoint (32 MiB of 4 KiB
// pages; SQLite's default is 1,000).
const walAutocheckpointPages = 8192

// checkpointEvery is the shortest time between two background checkpoints.
const checkpointEvery = 20 * time.Millisecond

type checkpointer struct {
	conn *sql.DB
	wake chan struct{}
	quit chan struct{}
	wg   sync.WaitGroup
}

func newCheckpointer(conn *sql.DB) *checkpointer {
	c := &checkpointer{conn: conn, wake: make(chan struct{}, 1), quit: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c
}

// written tells the checkpointer that a transaction committed.
func (c *checkpointer) written() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer c.wg.Done()
	for {
		select {
		case <-c.wake:
		case <-c.quit:
			return
		}
		// A failed checkpoint (the database busy, say) is not an error: the next one, or
		// the writer's own, copies the same frames.
		c.conn.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
		select {
		case <-time.After(checkpointEvery):
		case <-c.quit:
			return
		}
	}
}

func (c *checkpointer) stop() {
	close(c.quit)
	c.wg.Wait()
	c.conn.Close()
}
