import { describe, expect, it } from 'vitest';
import { ReplicaBalancer } from '../../src/conversation/replicas.js';

describe('ReplicaBalancer (affinity)', () => {
  it('sends the same key to the same replica, and spreads many keys evenly', () => {
    const balancer = new ReplicaBalancer({ now: () => 0 });
    const counts = [0, 0, 0, 0];
    for (let user = 0; user < 4000; user++) {
      const replica = balancer.pick('t', 4, `user-${user}`);
      expect(balancer.pick('t', 4, `user-${user}`)).toBe(replica);
      counts[replica]++;
    }
    for (const count of counts) expect(count).toBeGreaterThan(850);
  });

  it('moves only the keys of a replica that is removed (rendezvous property)', () => {
    const balancer = new ReplicaBalancer({ now: () => 0 });
    let moved = 0;
    for (let user = 0; user < 1000; user++) {
      const rank = balancer.rank('t', 4, `u${user}`);
      const withoutThree = rank.filter((replica) => replica !== 3);
      if (rank[0] !== 3 && withoutThree[0] !== rank[0]) moved++;
    }
    expect(moved).toBe(0);
  });

  it('skips a replica above (1 + epsilon) x the average in-flight load', () => {
    const balancer = new ReplicaBalancer({ epsilon: 0.25, now: () => 0 });
    const key = 'hot';
    const home = balancer.pick('t', 4, key);
    // Pile requests for the same key: the home fills to its capacity, then others take over.
    const placed: number[] = [];
    for (let request = 0; request < 40; request++) {
      const replica = balancer.pick('t', 4, key);
      balancer.acquire('t', 4, replica);
      placed.push(replica);
    }
    const load = balancer.load('t');
    const average = 40 / 4;
    for (const value of load) expect(value).toBeLessThanOrEqual(Math.ceil(1.25 * average));
    expect(placed[0]).toBe(home);
    expect(new Set(placed).size).toBe(4);
    // Released load brings the key home again.
    for (let replica = 0; replica < 4; replica++) while (balancer.load('t')[replica] > 0) balancer.release('t', 4, replica);
    expect(balancer.pick('t', 4, key)).toBe(home);
  });

  it('avoids a failed replica for the cooldown, then returns to it', () => {
    let now = 1_000;
    const balancer = new ReplicaBalancer({ cooldownMs: 30_000, now: () => now });
    const home = balancer.pick('t', 3, 'conv-1');
    balancer.markFailed('t', home, now);
    expect(balancer.isFailed('t', home)).toBe(true);
    const fallback = balancer.pick('t', 3, 'conv-1');
    expect(fallback).not.toBe(home);
    // A warm preferred replica keeps the conversation where it moved.
    now += 31_000;
    expect(balancer.pick('t', 3, 'conv-1', { preferred: fallback })).toBe(fallback);
    expect(balancer.pick('t', 3, 'conv-1')).toBe(home);
  });

  it('returns the replica that recovers first when all have failed', () => {
    const balancer = new ReplicaBalancer({ cooldownMs: 10_000, now: () => 0 });
    balancer.markFailed('t', 0, 5, 3);
    balancer.markFailed('t', 1, 1, 3);
    balancer.markFailed('t', 2, 9, 3);
    expect(balancer.pick('t', 3, 'k', { now: 100 })).toBe(1);
  });

  it('ignores single-replica targets', () => {
    const balancer = new ReplicaBalancer();
    expect(balancer.pick('t', 1, 'k')).toBe(0);
  });
});

describe('ReplicaBalancer baselines', () => {
  it('round-robin cycles through replicas regardless of the key', () => {
    const balancer = new ReplicaBalancer({ strategy: 'round-robin' });
    expect([0, 1, 2, 3, 4].map(() => balancer.pick('t', 4, 'same'))).toEqual([0, 1, 2, 3, 0]);
  });

  it('random is reproducible for a seed and uses every replica', () => {
    const first = new ReplicaBalancer({ strategy: 'random', seed: 42 });
    const second = new ReplicaBalancer({ strategy: 'random', seed: 42 });
    const picks = Array.from({ length: 100 }, () => first.pick('t', 4, 'k'));
    expect(Array.from({ length: 100 }, () => second.pick('t', 4, 'k'))).toEqual(picks);
    expect(new Set(picks).size).toBe(4);
  });
});
