/**
 * `plan()`: which targets may serve a request, in which order, and why (DESIGN.md section 5).
 *
 * Pure and deterministic: data in, data out; no I/O, no clock (time comes in `request.now`).
 * Every target that cannot serve keeps its reason, so a `NoRouteError` can say what to change.
 *
 * One idea at about 600 lines: one pass over the targets (filter, predict, price, order) whose
 * steps share a per-target scratch record built once per plan for speed (see bench/plan.ts);
 * the fixed contract (types.ts), segments (segments.ts) and plan reuse (plan-cache.ts) are apart.
 *
 * Imports: errors.ts and target.ts/types.ts (types), cost.ts, conversation/kv-memory.ts,
 * stats/prior.ts, ./segments.ts, ./types.ts.
 */
import type { Modality, Segment, Target, TargetKind } from '../target.js';
import type { Operation } from '../types.js';
import { pricesFor } from '../cost.js';
import { deviceMemoryHeadroom, fitsDevice, kvBytesFor } from '../conversation/kv-memory.js';
import { priorQuantile } from '../stats/prior.js';
import { segmentKinds } from './segments.js';
import type { Candidate, Plan, PlanRejection, PlanRequest, StatsView } from './types.js';

/**
 * A `StatsView` that can also say whether a metric rests on real measurements rather than a
 * prior (`Stats` from src/stats does). Without `measured`, any latency the view returns counts
 * as measured.
 */
export interface MeasuredStatsView extends StatsView {
  measured?(targetId: string, metric: 'ttft' | 'total'): boolean;
}

/**
 * Predicted latency, ms, when neither measurements nor `target.expected` exist. Read as medians;
 * p90 follows `priorQuantile` (1.5x). First token for text, whole answer otherwise.
 */
export const defaultLatencyMs: Readonly<Record<TargetKind, { ttftMs: number; totalMs: number }>> = Object.freeze({
  device: { ttftMs: 50, totalMs: 400 },
  realtime: { ttftMs: 150, totalMs: 600 },
  cloud: { ttftMs: 600, totalMs: 1_500 },
  // Provider batch endpoints promise 24 h and usually take a few hours.
  batch: { ttftMs: 3 * 3_600_000, totalMs: 3 * 3_600_000 },
});

/** Output tokens assumed for text when the request does not say. */
export const defaultOutputTokens = 256;

// ---------------------------------------------------------------------------------------------
// Static facts per target, computed once (targets are treated as immutable once planned).

const operationBits: Record<Operation, number> = { generate: 1, stream: 2, embed: 4, image: 8, transcribe: 16, speech: 32, video: 64 };
const modalityBits: Record<Modality, number> = { text: 1, embedding: 2, image: 4, transcription: 8, speech: 16, video: 32 };

interface TargetFacts {
  modalityMask: number;
  /** Operations the target can run online (do* methods). */
  onlineOperations: number;
  /** Operations its batch endpoint can run (batch segment only). */
  batchOperations: number;
  /** "text-only", or "serves text, embedding". */
  modalityText: string;
}

const factsByTarget = new WeakMap<Target, TargetFacts>();

function factsOf(target: Target): TargetFacts {
  let facts = factsByTarget.get(target);
  if (facts !== undefined) return facts;
  let modalityMask = 0;
  for (const modality of target.modalities) modalityMask |= modalityBits[modality] ?? 0;
  let online = 0;
  if (target.doGenerate || target.doStream) online |= operationBits.generate | operationBits.stream;
  if (target.doEmbed) online |= operationBits.embed;
  if (target.doImage) online |= operationBits.image;
  if (target.doTranscribe) online |= operationBits.transcribe;
  if (target.doSpeech) online |= operationBits.speech;
  if (target.doVideo) online |= operationBits.video;
  facts = {
    modalityMask,
    onlineOperations: online,
    batchOperations: target.batch ? operationBits.generate | operationBits.embed : 0,
    modalityText:
      target.modalities.length === 0
        ? 'serves no modality'
        : target.modalities.length === 1
          ? `${target.modalities[0]}-only`
          : `serves ${target.modalities.join(', ')}`,
  };
  factsByTarget.set(target, facts);
  return facts;
}

// ---------------------------------------------------------------------------------------------
// Per-call working records.

interface Scratch {
  target: Target;
  /** Tie-break position: index in `only` when given, else in `targets`. */
  position: number;
  /** 0 fits and closed; higher groups go later (see groupOf). */
  group: number;
  halfOpen: boolean;
  /** Predicted too slow, kept only because nothing else can serve. */
  tooSlow?: boolean;
  lastResort: boolean;
  fits: boolean;
  p50: number;
  p90: number;
  ttftP90: number;
  /** Known price before any cold-switch, or NaN when the target declares none. */
  baseCostUsd: number;
  costUsd: number;
  coldSwitchUsd: number;
  costUnknown: boolean;
  warm: boolean;
  /** The history is longer than the context and will be fitted for this target. */
  fitted: boolean;
}

type Order = 'fastest' | 'cheapest' | 'listed';

/** Sort state for the comparator (module-level so no closure is created per call). */
let currentOrder: Order = 'cheapest';

function compareScratch(a: Scratch, b: Scratch): number {
  if (a.group !== b.group) return a.group - b.group;
  // Among candidates that do not fit, the fastest has the best chance to make it.
  const order = a.fits ? currentOrder : currentOrder === 'listed' ? 'listed' : 'fastest';
  if (order === 'fastest') {
    if (a.p90 !== b.p90) return a.p90 - b.p90;
    if (a.costUsd !== b.costUsd) return a.costUsd - b.costUsd;
  } else if (order === 'cheapest') {
    if (a.costUsd !== b.costUsd) return a.costUsd - b.costUsd;
    if (a.warm !== b.warm) return a.warm ? -1 : 1;
    if (a.p90 !== b.p90) return a.p90 - b.p90;
  }
  if (a.position !== b.position) return a.position - b.position;
  return a.target.id < b.target.id ? -1 : a.target.id > b.target.id ? 1 : 0;
}

/** Insertion sort: stable, no allocation, fastest for the handful of candidates a client has. */
function sortScratch(items: Scratch[]): void {
  for (let i = 1; i < items.length; i++) {
    const item = items[i];
    let j = i - 1;
    while (j >= 0 && compareScratch(items[j], item) > 0) {
      items[j + 1] = items[j];
      j--;
    }
    items[j + 1] = item;
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Plans a request: filters the targets (each rejection keeps its reason) and orders the rest.
 *
 * Filters, in order: `only`; privacy (`device-only` keeps device targets only, never as a
 * preference); modality; the operation's method (a target with only a batch endpoint serves only
 * the batch segment); segment vs kind; availability; open circuit; context window; device KV
 * memory; predicted p50 against the budget (realtime and interactive).
 *
 * Order: half-open circuits keep their place (one probe goes through); in the batch segment device and realtime targets after the
 * rest; then those whose p90 fits the budget before those that do not; then the preference —
 * realtime: fastest p90 first token; interactive and batch: cheapest, then fastest;
 * `request.prefer` overrides; with `only` and no `prefer`, the listed order. Ties: position in
 * `only` (else in `targets`), then id.
 *
 * Cost: `target.cost` x tokens (batch endpoints times `batch.priceMultiplier` in the batch
 * segment). A device target without prices costs 0; any other target without prices counts as
 * the median of the candidates whose price is known (0 if none is), so it neither wins nor loses
 * on price by accident. When `conversation.affinity` names a warm target, its cached prefix is
 * priced at `cachedInputPerMTok` and every other candidate carries the cold-switch cost of
 * throwing that cache away, so the warm target wins while it fits the budget.
 *
 * Context: without a conversation, `inputTokens + outputTokens` must fit `limits.contextTokens`.
 * With one, the conversation layer fits the history per target, so `inputTokens` must hold what
 * cannot be dropped (system message and last turn) and `conversation.totalTokens` the whole
 * history plus output; only the former can reject a target.
 */
export function plan(request: PlanRequest, targets: readonly Target[], stats: MeasuredStatsView): Plan {
  const { segment, budgetMs, now, only, conversation } = request;
  const isText = request.modality === 'text';
  const metric: 'ttft' | 'total' = isText ? 'ttft' : 'total';
  const outputTokens = request.outputTokens ?? (isText ? defaultOutputTokens : 0);
  const requiredTokens = request.inputTokens + outputTokens;
  const historyTokens = conversation?.totalTokens ?? requiredTokens;
  const wantedModality = modalityBits[request.modality] ?? 0;
  const wantedOperation = operationBits[request.operation] ?? 0;
  const kinds = segmentKinds[segment];
  const latencyBound = segment !== 'batch';
  const deviceOnly = request.privacy === 'device-only';

  const rejected: PlanRejection[] = [];
  const survivors: Scratch[] = [];
  const tooSlow: Scratch[] = [];

  if (only !== undefined) {
    for (const id of only) {
      let found = false;
      for (const target of targets) if (target.id === id) found = true;
      if (!found) rejected.push({ target: id, code: 'unknown-target', reason: 'no target has this id' });
    }
  }

  for (let index = 0; index < targets.length; index++) {
    const target = targets[index];
    const id = target.id;
    const kind = target.kind;
    const facts = factsOf(target);

    let position = index;
    if (only !== undefined) {
      position = only.indexOf(id);
      if (position === -1) {
        rejected.push({ target: id, code: 'not-listed', reason: "not among the request's targets" });
        continue;
      }
    }
    if (deviceOnly && kind !== 'device') {
      rejected.push({ target: id, code: 'privacy', reason: 'privacy: device-only forbids network targets' });
      continue;
    }
    if ((facts.modalityMask & wantedModality) === 0) {
      rejected.push({ target: id, code: 'modality', reason: `${facts.modalityText}, cannot serve '${request.modality}'` });
      continue;
    }
    const online = (facts.onlineOperations & wantedOperation) !== 0;
    const viaBatch = segment === 'batch' && (facts.batchOperations & wantedOperation) !== 0;
    if (!online && !viaBatch) {
      if ((facts.batchOperations & wantedOperation) !== 0) {
        rejected.push({ target: id, code: 'segment', reason: `has only a batch endpoint, which serves only the batch segment, not ${segment}` });
      } else {
        rejected.push({ target: id, code: 'method', reason: missingMethodReason(request.operation) });
      }
      continue;
    }
    const primary = kinds.primary.includes(kind);
    const lastResort = !primary && kinds.lastResort.includes(kind);
    const measuredOnly = !primary && !lastResort && kinds.measuredOnly.includes(kind);
    if (!primary && !lastResort && !measuredOnly) {
      rejected.push({ target: id, code: 'segment', reason: `a ${kind} target does not serve the ${segment} segment` });
      continue;
    }
    if (stats.availability(id) === 'unavailable') {
      rejected.push({ target: id, code: 'unavailable', reason: 'unavailable on this device' });
      continue;
    }
    const circuit = stats.circuit(id, now);
    if (circuit === 'open') {
      rejected.push({ target: id, code: 'circuit-open', reason: 'circuit open after repeated failures; it is probed again after its cooldown' });
      continue;
    }
    const contextTokens = target.limits?.contextTokens;
    let fitted = false;
    if (isText && contextTokens !== undefined) {
      if (requiredTokens > contextTokens) {
        rejected.push({
          target: id,
          code: 'context',
          reason:
            conversation === undefined
              ? `needs ${groupDigits(requiredTokens)} tokens but the context holds ${groupDigits(contextTokens)}`
              : `even the system message and last turn (${groupDigits(requiredTokens)} tokens with output) exceed the ${groupDigits(contextTokens)}-token context`,
        });
        continue;
      }
      fitted = historyTokens > contextTokens;
    }
    if (isText && kind === 'device' && target.kv !== undefined) {
      // Under device-only privacy the history is fitted to the device instead of leaving it,
      // so only what cannot be dropped must fit.
      const kvTokens = deviceOnly && conversation !== undefined ? requiredTokens : historyTokens;
      if (!fitsDevice(target.kv, kvTokens)) {
        rejected.push({ target: id, code: 'kv-memory', reason: kvReason(target, kvTokens) });
        continue;
      }
    }

    // Prediction: stats (measurements, or the prior it holds), else target.expected, else by kind.
    const prior = (metric === 'ttft' ? target.expected?.ttftMs : target.expected?.totalMs) ?? (metric === 'ttft' ? defaultLatencyMs[kind].ttftMs : defaultLatencyMs[kind].totalMs);
    const knownP50 = stats.latency(id, metric, 0.5);
    const p50 = knownP50 ?? priorQuantile(prior, 0.5);
    const measuredP90 = stats.latency(id, metric, 0.9);
    const p90 = measuredP90 ?? priorQuantile(prior, 0.9);
    let ttftP90 = p90;
    if (!isText) {
      const ttftPrior = target.expected?.ttftMs ?? target.expected?.totalMs ?? defaultLatencyMs[kind].totalMs;
      ttftP90 = stats.latency(id, 'ttft', 0.9) ?? Math.min(p90, priorQuantile(ttftPrior, 0.9));
    }

    if (measuredOnly) {
      const measured = measuredP90 !== undefined && (stats.measured === undefined || stats.measured(id, metric));
      if (!measured) {
        rejected.push({ target: id, code: 'segment', reason: `a ${kind} target serves the ${segment} segment only once its measured p90 fits; none measured yet` });
        continue;
      }
      if (p90 > budgetMs) {
        rejected.push({ target: id, code: 'latency', reason: `measured p90 ${formatMs(p90)} ms exceeds the ${formatMs(budgetMs)} ms ${segment} budget` });
        continue;
      }
    }
    // Only a measurement or the caller's own prior rejects; the per-kind guess only orders.
    const fits = p90 <= budgetMs;
    const halfOpen = circuit === 'half-open';
    const item: Scratch = {
      target,
      position,
      // Half-open targets keep their place: the executor lets exactly one probe through, and a
      // probe that never happens would leave the circuit half-open forever.
      group: (lastResort ? 2 : 0) + (fits ? 0 : 1),
      halfOpen,
      lastResort,
      fits,
      p50,
      p90,
      ttftP90,
      baseCostUsd: Number.NaN,
      costUsd: 0,
      coldSwitchUsd: 0,
      costUnknown: false,
      warm: false,
      fitted,
    };
    // A batch endpoint takes minutes to hours by its nature: a shorter budget rules it out.
    if (kind === 'batch' && knownP50 === undefined && p50 > budgetMs) {
      rejected.push({ target: id, code: 'latency', reason: `a batch endpoint takes about ${formatMs(p50)} ms, beyond the ${formatMs(budgetMs)} ms budget` });
      continue;
    }
    // Only a measurement or the caller's own prior rejects; the per-kind guess only orders.
    if (latencyBound && knownP50 !== undefined && p50 > budgetMs) {
      tooSlow.push(item);
      continue;
    }
    survivors.push(item);
  }

  // Latency is a prediction, not a fact: when every target that could serve the request is only
  // predicted too slow, try the fastest anyway (the deadline still rules). Rejecting them all would
  // also stop them being measured again, so one slow start would lock a target out for good.
  if (survivors.length === 0 && tooSlow.length > 0) {
    for (const item of tooSlow) {
      item.group = 4;
      item.tooSlow = true;
      survivors.push(item);
    }
  } else {
    for (const item of tooSlow) {
      rejected.push({ target: item.target.id, code: 'latency', reason: `p50 ${formatMs(item.p50)} ms exceeds the ${formatMs(budgetMs)} ms budget` });
    }
  }

  // Costs. Input priced is the history actually sent when a conversation is longer than the minimum.
  const inputForCost = Math.max(request.inputTokens, historyTokens - outputTokens);
  const affinity = conversation?.affinity;
  const warmId = affinity !== undefined && affinity.warmUntil > now ? affinity.target : undefined;
  const prefixTokens = Math.min(inputForCost, conversation?.prefixTokens ?? affinity?.cachedTokens ?? 0);
  let warm: Scratch | undefined;
  for (const item of survivors) {
    if (item.target.id === warmId) {
      item.warm = true;
      warm = item;
    }
  }
  let known = 0;
  for (const item of survivors) {
    item.baseCostUsd = estimateCostUsd(item.target, request, segment, inputForCost, outputTokens, item.warm ? prefixTokens : 0);
    if (!Number.isNaN(item.baseCostUsd) && item.target.kind !== 'device') known++;
  }
  let priceless = false;
  for (const item of survivors) if (Number.isNaN(item.baseCostUsd) && item.target.kind !== 'device') priceless = true;
  const medianUsd = priceless && known > 0 ? medianKnownCost(survivors, known) : 0;
  let coldSwitchUsd = 0;
  if (warm !== undefined && prefixTokens > 0) {
    const cost = pricesFor(warm.target.cost, request.modality);
    const full = cost?.inputPerMTok;
    const cached = cost?.cachedInputPerMTok;
    if (full !== undefined && cached !== undefined && full > cached) coldSwitchUsd = (prefixTokens * (full - cached)) / 1e6;
  }
  for (const item of survivors) {
    let usd = item.baseCostUsd;
    if (Number.isNaN(usd)) {
      item.costUnknown = true;
      usd = item.target.kind === 'device' ? 0 : medianUsd;
    }
    if (warm !== undefined && !item.warm && coldSwitchUsd > 0) {
      item.coldSwitchUsd = coldSwitchUsd;
      usd += coldSwitchUsd;
    }
    item.costUsd = usd;
  }

  currentOrder = request.prefer ?? (only !== undefined ? 'listed' : segment === 'realtime' ? 'fastest' : 'cheapest');
  sortScratch(survivors);

  const candidates: Candidate[] = new Array(survivors.length);
  const leader = survivors.length > 0 && survivors[0].group === 0 ? survivors[0] : undefined;
  const context: ReasonContext = { order: currentOrder, budgetMs, metric, prefixTokens, leader };
  for (let rank = 0; rank < survivors.length; rank++) candidates[rank] = toCandidate(survivors[rank], context);
  return { segment, budgetMs, candidates, rejected };
}

/**
 * The public candidate. `reason` is written eagerly: an accessor that formats on first read was
 * tried and measured slower (object literals with accessors take V8's slow path: ~25 µs vs ~3 µs
 * for a 10-target plan).
 */
function toCandidate(item: Scratch, context: ReasonContext): Candidate {
  return {
    target: item.target,
    predictedMs: { p50: item.p50, p90: item.p90, ttftP90: item.ttftP90 },
    costUsd: item.costUsd,
    coldSwitchUsd: item.coldSwitchUsd > 0 ? item.coldSwitchUsd : undefined,
    fits: item.fits,
    warm: item.warm ? true : undefined,
    reason: reasonFor(item, context),
  };
}

function missingMethodReason(operation: Operation): string {
  switch (operation) {
    case 'generate':
      return 'cannot generate text: has neither doGenerate nor doStream';
    case 'stream':
      return 'cannot stream: has neither doStream nor doGenerate';
    case 'embed':
      return 'cannot embed: has no doEmbed';
    case 'image':
      return 'cannot make images: has no doImage';
    case 'transcribe':
      return 'cannot transcribe: has no doTranscribe';
    case 'speech':
      return 'cannot speak: has no doSpeech';
    case 'video':
      return 'cannot make video: has no doVideo';
  }
}

function kvReason(target: Target, tokens: number): string {
  const kv = target.kv!;
  const weights = kv.weightsBytes ?? 0;
  const cache = kvBytesFor(kv, tokens) - weights;
  const weightsText = weights > 0 ? ` plus ${formatBytes(weights)} of weights` : '';
  return `KV cache for ${groupDigits(tokens)} tokens needs ${formatBytes(cache)}${weightsText}, over ${Math.round(deviceMemoryHeadroom * 100)}% of the ${formatBytes(kv.memoryBudgetBytes)} memory budget`;
}

/**
 * Estimated USD for one request, or NaN when the target declares no price for this modality.
 * `cachedPrefixTokens` of the input are priced at `cachedInputPerMTok` (warm target only).
 * Audio is priced per second, which the plan does not know: one second stands in, enough to
 * rank targets by price.
 */
function estimateCostUsd(target: Target, request: PlanRequest, segment: Segment, inputTokens: number, outputTokens: number, cachedPrefixTokens: number): number {
  const cost = pricesFor(target.cost, request.modality);
  if (cost === undefined) return Number.NaN;
  let usd: number;
  switch (request.modality) {
    case 'text':
    case 'embedding': {
      if (cost.inputPerMTok === undefined && cost.outputPerMTok === undefined && cost.perRequest === undefined) return Number.NaN;
      const inputPrice = cost.inputPerMTok ?? 0;
      const cachedPrice = cost.cachedInputPerMTok ?? inputPrice;
      usd = ((inputTokens - cachedPrefixTokens) * inputPrice + cachedPrefixTokens * cachedPrice + outputTokens * (cost.outputPerMTok ?? 0)) / 1e6;
      break;
    }
    case 'image':
      if (cost.perImage === undefined && cost.perRequest === undefined) return Number.NaN;
      usd = cost.perImage ?? 0;
      break;
    case 'transcription':
    case 'speech':
      if (cost.perSecondAudio === undefined && cost.perRequest === undefined) return Number.NaN;
      usd = cost.perSecondAudio ?? 0;
      break;
    default:
      if (cost.perRequest === undefined) return Number.NaN;
      usd = 0;
  }
  usd += cost.perRequest ?? 0;
  if (segment === 'batch' && target.batch !== undefined && (request.operation === 'generate' || request.operation === 'embed')) {
    usd *= target.batch.priceMultiplier ?? 1;
  }
  return usd;
}

function ascending(a: number, b: number): number {
  return a - b;
}

function medianKnownCost(items: Scratch[], known: number): number {
  const values: number[] = new Array(known);
  let n = 0;
  for (const item of items) if (!Number.isNaN(item.baseCostUsd) && item.target.kind !== 'device') values[n++] = item.baseCostUsd;
  values.sort(ascending);
  const middle = n >> 1;
  return n % 2 === 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

// ---------------------------------------------------------------------------------------------
// Reasons, written for people.

interface ReasonContext {
  order: Order;
  budgetMs: number;
  metric: 'ttft' | 'total';
  prefixTokens: number;
  /** The first candidate when it fits, has a closed circuit and is no last resort. */
  leader: Scratch | undefined;
}

function reasonFor(item: Scratch, ctx: ReasonContext): string {
  const what = ctx.metric === 'ttft' ? 'first token' : 'total';
  const timing = `p90 ${what} ${formatMs(item.p90)} ms`;
  const budget = `${formatMs(ctx.budgetMs)} ms budget`;
  let reason: string;
  if (item.tooSlow) {
    reason = `p50 ${formatMs(item.p50)} ms exceeds the ${budget}, tried because no faster target can serve`;
  } else if (item.halfOpen) {
    reason = `circuit half-open: one probe allowed (${timing})`;
  } else if (item.lastResort) {
    reason = `last resort for batch work: a ${item.target.kind} target, tried after cloud and batch targets`;
  } else if (!item.fits) {
    reason = `${timing} exceeds the ${budget} (p50 ${formatMs(item.p50)} ms fits), so tried after those that fit`;
  } else {
    const first = item === ctx.leader;
    const warm = item.warm ? `warm prompt cache (${groupDigits(ctx.prefixTokens)} tokens), ` : '';
    if (ctx.order === 'fastest') {
      reason = first ? `${warm}fastest ${timing} within ${budget}` : `${warm}${timing} within ${budget}, slower than ${ctx.leader!.target.id}`;
    } else if (ctx.order === 'cheapest') {
      reason = first ? `${warm}cheapest at ${formatUsd(item.costUsd)}, ${timing} within ${budget}` : `${warm}${formatUsd(item.costUsd)}, dearer than ${ctx.leader!.target.id}; ${timing} within ${budget}`;
    } else {
      reason = `${warm}listed #${item.position + 1} in the request's targets; ${timing} within ${budget}`;
    }
  }
  if (item.coldSwitchUsd > 0) reason += `; counts ${formatUsd(item.coldSwitchUsd)} for leaving the warm cache`;
  if (item.costUnknown && item.target.kind !== 'device') reason += `; no price declared, counted as the median ${formatUsd(item.costUsd - item.coldSwitchUsd)}`;
  if (item.fitted) reason += '; history will be fitted to its context';
  return reason;
}

/** Renders a plan for people: the order with reasons, then each rejected target and why. */
export function explainPlan(plan: Plan): string {
  const lines: string[] = [`${plan.segment} segment, ${formatMs(plan.budgetMs)} ms budget`];
  if (plan.candidates.length === 0) lines.push('no target can serve this request');
  else lines.push('order:');
  plan.candidates.forEach((candidate, index) => {
    const p = candidate.predictedMs;
    const flags = `${candidate.warm ? ', warm' : ''}${candidate.fits ? '' : ', does not fit at p90'}`;
    lines.push(
      `  ${index + 1}. ${candidate.target.id} (${candidate.target.kind}): p50 ${formatMs(p.p50)} ms, p90 ${formatMs(p.p90)} ms, ${formatUsd(candidate.costUsd)}${flags}`,
      `     ${candidate.reason}`,
    );
  });
  if (plan.rejected.length > 0) {
    lines.push('rejected:');
    for (const rejection of plan.rejected) lines.push(`  - ${rejection.target} [${rejection.code}]: ${rejection.reason}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Number formatting without Intl (fast, and identical in every runtime).

function groupDigits(value: number): string {
  const text = String(Math.round(value));
  const negative = text.startsWith('-');
  const digits = negative ? text.slice(1) : text;
  if (digits.length <= 3) return text;
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return negative ? `-${out}` : out;
}

function formatMs(ms: number): string {
  if (ms < 10 && ms !== Math.round(ms)) return ms.toFixed(1);
  return groupDigits(ms);
}

function formatUsd(usd: number): string {
  if (usd === 0) return '$0';
  if (usd >= 0.01) return `$${usd.toFixed(usd >= 100 ? 0 : 4)}`;
  // Two significant digits without exponent notation.
  const decimals = Math.min(20, Math.max(2, 1 - Math.floor(Math.log10(usd))));
  return `$${usd.toFixed(decimals)}`;
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}
