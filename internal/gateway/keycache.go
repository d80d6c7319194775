package gateway

import (
	"context"
	"slices"
	"sync"
	"time"

	"spectra/internal/refresh"
	"spectra/internal/team"
)

// keyCache remembers authenticated keys for keyCacheTTL, so that a busy key costs no
// database read per request. The price: on the gateway, a revoked key or a key whose
// settings changed on another node takes effect within keyCacheTTL (changes made
// through this node — PATCH, a revoked key, a removed member's keys — take effect at
// once, see Gateway.ForgetKeys). The same holds for the role of a key's member, which
// bounds what the key may do (Gateway.ForgetMemberKeys). Only valid keys are cached.
type keyCache struct {
	team    *team.Service
	now     func() time.Time
	refresh *refresh.Group // the gateway's background refreshes

	mu      sync.Mutex
	entries map[string]cachedKey // by the hash of the secret
	gen     uint64               // bumped by forget, so a read that began before it is not cached
}

type cachedKey struct {
	key     team.APIKey
	expires time.Time
}

const (
	keyCacheTTL  = time.Second
	keyCacheSize = 10_000
)

// authenticate returns the active key whose secret this is (team.ErrInvalidKey
// otherwise; a key past its expiry is 401 key_expired, returned with the key, even from
// the cache). An inference key whose member's role no longer allows using keys is
// refused (403 key_role_forbidden, returned with the key): the cached role is at most keyCacheTTL old, and a
// role changed through this node drops the member's keys at once (forgetMember).
func (c *keyCache) authenticate(ctx context.Context, secret string) (team.APIKey, error) {
	k, err := c.lookup(ctx, secret)
	if err != nil {
		return k, err
	}
	if k.Expired(c.now()) { // a cached key is checked against the clock at each use
		return k, team.ErrKeyExpired
	}
	if k.Kind == team.KindInference {
		if err := k.RoleAllows(team.ActUseKeys); err != nil {
			return k, err // the key is known: its refusal goes to its workspace's request log
		}
	}
	return k, nil
}

// lookup returns the active key whose secret this is, from the cache or the database.
func (c *keyCache) lookup(ctx context.Context, secret string) (team.APIKey, error) {
	h := team.HashSecret(secret)
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[h]
	if ok && now.Before(e.expires) {
		c.mu.Unlock()
		// Past half its life, the entry is refreshed in the background (one read at a
		// time per key), so a busy key never waits for the database.
		if e.expires.Sub(now) < keyCacheTTL/2 {
			c.refresh.Go("key:"+h, func(ctx context.Context) { c.fetch(ctx, h, secret) })
		}
		return e.key, nil
	}
	c.mu.Unlock()
	return c.fetch(ctx, h, secret)
}

// fetch reads a key from the team service and caches it (or forgets it when it is no
// longer valid).
func (c *keyCache) fetch(ctx context.Context, h, secret string) (team.APIKey, error) {
	now := c.now()
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	k, err := c.team.Authenticate(ctx, secret)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		delete(c.entries, h)
		return k, err
	}
	if gen != c.gen {
		// A key was forgotten while this read was in flight: it may be this one, read
		// before its revocation committed. Answer this request, cache nothing.
		delete(c.entries, h)
		return k, nil
	}
	if len(c.entries) >= keyCacheSize {
		clear(c.entries)
	}
	c.entries[h] = cachedKey{key: k, expires: now.Add(keyCacheTTL)}
	return k, nil
}

// forget drops keys from the cache (their settings just changed, or they were revoked).
func (c *keyCache) forget(keyIDs ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.entries {
		if slices.Contains(keyIDs, e.key.ID) {
			delete(c.entries, h)
		}
	}
}

// forgetMember drops a member's keys from the cache (their role just changed).
func (c *keyCache) forgetMember(workspaceID, userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.entries {
		if e.key.WorkspaceID == workspaceID && e.key.MemberID == userID {
			delete(c.entries, h)
		}
	}
}

// ForgetMemberKeys drops a member's keys from this node's key cache, so that their next
// request reads the member's new role. cmd/spectra subscribes it to
// team.Accounts.OnRoleChanged: a demotion made through this node bounds the member's
// keys at once here, and within keyCacheTTL (one second) on every other node.
func (g *Gateway) ForgetMemberKeys(workspaceID, userID string) {
	g.keys.forgetMember(workspaceID, userID)
}

// ForgetKeys drops keys from this node's key cache, so that their next request is
// checked against the database. cmd/spectra subscribes it to team.Service.OnKeysRevoked
// and team.Accounts.OnKeysRevoked: a key revoked through this node, or a removed
// member's keys, stop working here at once.
func (g *Gateway) ForgetKeys(keyIDs []string) { g.keys.forget(keyIDs...) }
