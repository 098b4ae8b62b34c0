/**
 * Claims on parts, shared by part submission and the online runner: who may take a part, and
 * the renewal of a claim its owner still holds.
 *
 * Imports: ./job-store, ./types.
 */
import type { JobStore } from './job-store.js';
import type { PartRecord, PartState } from './types.js';

/** Unclaimed, this owner's own (from an earlier life of the same name), or its lease has lapsed. */
export function isClaimable(part: PartRecord, ownerId: string, now: number): boolean {
  return part.owner === undefined || part.owner === ownerId || (part.leaseUntil ?? 0) <= now;
}

/**
 * Extends `ownerId`'s claim on a part in `state` to `leaseUntil`; false when the claim is no
 * longer theirs. A lapsed lease that nobody took over is theirs still: the compare-and-set
 * proves that nobody wrote the record since it was read.
 */
export async function renewClaim(store: JobStore, id: string, index: number, state: PartState, ownerId: string, leaseUntil: number): Promise<boolean> {
  for (;;) {
    const { record, version } = await store.load(id);
    const part = record.parts[index];
    if (part.owner !== ownerId || part.state !== state) return false;
    part.leaseUntil = leaseUntil;
    if ((await store.replace(record, version)) !== undefined) return true;
  }
}
