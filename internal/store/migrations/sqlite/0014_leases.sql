-- Gateway leases (SQLite): a hold with a node_id is a gateway node's lease on a wallet (one per
-- wallet and node). inflight is what the node last published as the estimates of its
-- requests in flight: the wallet's held amount as shown counts a lease only up to it,
-- while the guard counts the whole lease. reclaim: 0 none, 1 another node asks the
-- owning node to shrink the lease to what it has in flight, 2 the owner did (until its
-- next publication).
ALTER TABLE holds ADD COLUMN node_id TEXT;
ALTER TABLE holds ADD COLUMN inflight BIGINT NOT NULL DEFAULT 0 CHECK (inflight >= 0);
ALTER TABLE holds ADD COLUMN reclaim INTEGER NOT NULL DEFAULT 0 CHECK (reclaim IN (0, 1, 2));
CREATE INDEX holds_node ON holds (node_id) WHERE status = 'held' AND node_id IS NOT NULL;
CREATE INDEX holds_leases ON holds (account_id) WHERE status = 'held' AND node_id IS NOT NULL;
