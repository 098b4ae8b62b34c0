/**
 * Replica affinity for targets served by several replicas (self-hosted vLLM/SGLang-style
 * deployments, or the test server): a conversation goes to the replica whose prefix cache holds
 * it, by rendezvous hashing of its replica key, with bounded load ("consistent hashing with
 * bounded loads", Mirrokni, Thorup and Zadimoghaddam 2018): a replica already above
 * (1 + epsilon) x the average in-flight load is skipped, as SGLang and AIBrix switch to
 * least-loaded when imbalance passes a threshold. A failed replica is avoided for a cooldown.
 *
 * `round-robin` and `random` exist as baselines for bench/affinity.ts.
 *
 * Imports: hash.ts.
 */
import { mulberry32 } from '../random.js';
import { hash64 } from './hash.js';

export type ReplicaStrategy = 'affinity' | 'round-robin' | 'random';

export interface ReplicaBalancerOptions {
  /** @default 'affinity' */
  strategy?: ReplicaStrategy;
  /**
   * Load slack: a replica is full above ceil((1 + epsilon) x average in-flight). Leaving a warm
   * replica throws its cache away, so the default tolerates twice the average before spilling
   * (with 0.25, random arrival alone spilled about one request in seven at 8 in flight per replica).
   * @default 1
   */
  epsilon?: number;
  /** How long a failed replica is avoided, ms. @default 30_000 */
  cooldownMs?: number;
  /** Clock, ms since epoch. @default Date.now */
  now?: () => number;
  /** Seed of the `random` strategy, so benchmarks repeat. @default 1 */
  seed?: number;
}

export interface PickOptions {
  /** The replica whose cache is warm for this key: kept unless it failed or is overloaded. */
  preferred?: number;
  /** ms since epoch. @default options.now() */
  now?: number;
}

interface TargetState {
  inFlight: number[];
  failedUntil: number[];
  roundRobin: number;
}


export class ReplicaBalancer {
  readonly strategy: ReplicaStrategy;
  private readonly epsilon: number;
  private readonly cooldownMs: number;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly targets = new Map<string, TargetState>();

  constructor(options: ReplicaBalancerOptions = {}) {
    this.strategy = options.strategy ?? 'affinity';
    this.epsilon = options.epsilon ?? 1;
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.clock = options.now ?? Date.now;
    this.random = mulberry32(options.seed ?? 1);
  }

  private state(targetId: string, replicas: number): TargetState {
    let state = this.targets.get(targetId);
    if (!state || state.inFlight.length !== replicas) {
      state = { inFlight: new Array<number>(replicas).fill(0), failedUntil: new Array<number>(replicas).fill(0), roundRobin: 0 };
      this.targets.set(targetId, state);
    }
    return state;
  }

  /** Replicas in rendezvous order for `key`: the first is the key's home. */
  rank(targetId: string, replicas: number, key: string): number[] {
    const scores = Array.from({ length: replicas }, (_, replica) => ({ replica, score: hash64(`${targetId}\u0000${key}\u0000${replica}`) }));
    scores.sort((left, right) => (left.score < right.score ? 1 : left.score > right.score ? -1 : left.replica - right.replica));
    return scores.map((entry) => entry.replica);
  }

  /** The replica for `key` on `targetId` (0-based). Does not count it in flight: call `acquire`. */
  pick(targetId: string, replicas: number, key: string, options: PickOptions = {}): number {
    if (!Number.isInteger(replicas) || replicas <= 1) return 0;
    const now = options.now ?? this.clock();
    const state = this.state(targetId, replicas);
    const healthy = (replica: number): boolean => state.failedUntil[replica] <= now;

    if (this.strategy === 'round-robin' || this.strategy === 'random') {
      for (let tries = 0; tries < replicas; tries++) {
        const replica =
          this.strategy === 'round-robin' ? state.roundRobin++ % replicas : Math.floor(this.random() * replicas);
        if (healthy(replica)) return replica;
      }
      return this.leastBad(state, now);
    }

    const totalInFlight = state.inFlight.reduce((total, load) => total + load, 0);
    // Capacity counts the request being placed, so an idle cluster never refuses anyone.
    const capacity = Math.ceil(((1 + this.epsilon) * (totalInFlight + 1)) / replicas);
    const fits = (replica: number): boolean => healthy(replica) && state.inFlight[replica] + 1 <= capacity;
    const preferred = options.preferred;
    if (preferred !== undefined && Number.isInteger(preferred) && preferred >= 0 && preferred < replicas && fits(preferred)) return preferred;
    for (const replica of this.rank(targetId, replicas, key)) if (fits(replica)) return replica;
    return this.leastBad(state, now);
  }

  /** Every replica full or failed: the healthy one with the least load, else the one that recovers first. */
  private leastBad(state: TargetState, now: number): number {
    let best = 0;
    for (let replica = 1; replica < state.inFlight.length; replica++) {
      const bestHealthy = state.failedUntil[best] <= now;
      const healthy = state.failedUntil[replica] <= now;
      if (healthy !== bestHealthy) {
        if (healthy) best = replica;
        continue;
      }
      const better = healthy ? state.inFlight[replica] < state.inFlight[best] : state.failedUntil[replica] < state.failedUntil[best];
      if (better) best = replica;
    }
    return best;
  }

  /** Counts a request in flight on a replica. */
  acquire(targetId: string, replicas: number, replica: number): void {
    if (replicas <= 1) return;
    const state = this.state(targetId, replicas);
    if (replica >= 0 && replica < replicas) state.inFlight[replica]++;
  }

  /** Ends a request counted by `acquire`. */
  release(targetId: string, replicas: number, replica: number): void {
    if (replicas <= 1) return;
    const state = this.state(targetId, replicas);
    if (replica >= 0 && replica < replicas && state.inFlight[replica] > 0) state.inFlight[replica]--;
  }

  /** Avoids a replica until `now + cooldownMs`. */
  markFailed(targetId: string, replica: number, now: number = this.clock(), replicas?: number): void {
    const state = this.targets.get(targetId) ?? (replicas !== undefined ? this.state(targetId, replicas) : undefined);
    if (!state || replica < 0 || replica >= state.failedUntil.length) return;
    state.failedUntil[replica] = now + this.cooldownMs;
  }

  /** True when the replica is inside its failure cooldown. */
  isFailed(targetId: string, replica: number, now: number = this.clock()): boolean {
    const state = this.targets.get(targetId);
    return state !== undefined && (state.failedUntil[replica] ?? 0) > now;
  }

  /** In-flight requests per replica (a copy). */
  load(targetId: string): number[] {
    return [...(this.targets.get(targetId)?.inFlight ?? [])];
  }
}
