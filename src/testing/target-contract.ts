/**
 * `targetContract(options)`: the checks every adapter must pass, for adapter authors. Each check
 * builds a fresh target, drives its `do*` methods the way the executor does, and throws a
 * `ContractViolation` saying what the target did wrong.
 *
 * Free of any test framework on purpose (the package must not make vitest or jest a dependency):
 * it returns plain `{ name, run }` checks, so any runner takes them.
 *
 *   import { targetContract } from 'inferlane/testing';
 *   for (const check of targetContract({ target: () => myProvider({ ... }) })) it(check.name, check.run);
 *
 * `runTargetContract(options)` runs them all and reports which failed (for scripts, and for
 * showing that a broken adapter fails). What each check asks, and the hooks a test server gives,
 * are in docs/providers/writing-an-adapter.md.
 *
 * One idea in one file although it is long: the contract is the list of checks, what a good
 * answer looks like (shared by several checks), and the small timing helpers they run on; split,
 * each piece would only be read beside the others.
 *
 * Imports: ../target.ts, ../errors.ts, ../time/ (floor 1).
 */
import { InferlaneError } from '../errors.js';
import type { CallContext, EmbedCall, FinishReason, Modality, StreamPart, Target, TextCall, TextResult, Usage } from '../target.js';
import { systemClock } from '../time/clock.js';
import { sleep } from '../time/sleep.js';

/** What `arrange` may be asked to set up for the target's next call. */
export type ContractScenario =
  /** the next call fails the way the provider fails (a 500, a refused request) */
  | 'fail'
  /** the next call gets no answer at all until it is aborted */
  | 'hang'
  /** the next stream is long and slow (many parts, with gaps between them) */
  | 'slow-stream';

export interface TargetContractOptions {
  /**
   * Builds the target under test. Synchronous and without I/O (constructing a target must not
   * connect or load anything); called once when the checks are listed, to read what the target
   * declares, and once per check. Targets that have `close` are closed after each check.
   */
  target: () => Target;
  /**
   * Sets up what the target's next call meets, where the test can script the target's world (a
   * local test server, a stand-in engine). Return `false` when a scenario cannot be arranged: the
   * checks that need it then check what they can without it. @default nothing can be arranged
   */
  arrange?: (scenario: ContractScenario) => boolean | void | Promise<boolean | void>;
  /**
   * Resolves true once the last request the target made was closed by the client (e.g. the test
   * server saw the connection drop). Lets the contract check that breaking out of a stream closes
   * the request, not just the loop. @default not checked
   */
  requestClosed?: () => boolean | Promise<boolean>;
  /** The call the checks send. @default one user message, 'Say something about latency budgets.' */
  call?: TextCall;
  /** Inputs for the embedding checks, at least 2, all different. @default three short sentences */
  embedInputs?: string[];
  /** Strings that must never appear in an error (API keys, tokens). @default none */
  secrets?: string[];
  /** The target answers a call the same way every time (a test server's echo, greedy decoding): stream and generate must agree. @default false */
  deterministic?: boolean;
  /** How soon an aborted call, or a stream left early, must settle, ms. @default 2000 */
  settleMs?: number;
  /** The longest any call may take, ms. @default 20000 */
  timeoutMs?: number;
  /** When the abort checks abort a call in flight, ms after it started. @default 20 */
  abortAfterMs?: number;
}

export interface ContractCheck {
  /** What the check asks of the target, as a sentence. */
  name: string;
  /** Runs the check; rejects with a ContractViolation (or the target's own error) when it fails. */
  run(): Promise<void>;
}

export interface ContractReport {
  passed: string[];
  failed: { name: string; message: string }[];
  /** Checks that do not apply to this target, and why (e.g. it declares no embedding). */
  skipped: { name: string; reason: string }[];
}

/** A target broke the contract. */
export class ContractViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContractViolation';
  }
}

const kinds = new Set(['device', 'realtime', 'cloud', 'batch']);
const modalityMethods: Record<Modality, (keyof Target)[]> = {
  text: ['doGenerate', 'doStream'],
  embedding: ['doEmbed'],
  image: ['doImage'],
  transcription: ['doTranscribe'],
  speech: ['doSpeech'],
  video: ['doVideo'],
};
const finishReasons = new Set<FinishReason>(['stop', 'length', 'content-filter', 'tool-calls', 'refusal', 'error', 'other']);
const availabilities = new Set(['available', 'downloadable', 'unavailable']);
const defaultCall: TextCall = { messages: [{ role: 'user', content: 'Say something about latency budgets.' }] };
const defaultInputs = ['the quick brown fox', 'a latency budget of eighty milliseconds', 'embeddings come back in order'];

interface Listed {
  name: string;
  /** Why the check does not apply, or undefined when it does. */
  skip?: string;
  body: (target: Target) => Promise<void>;
}

/** Options, or just the factory (`targetContract(() => myProvider(...))`) when no hook is needed. */
export type TargetContractInput = TargetContractOptions | (() => Target);

const optionsOf = (input: TargetContractInput): TargetContractOptions => (typeof input === 'function' ? { target: input } : input);

/** The checks that apply to the target `options.target()` builds. */
export function targetContract(input: TargetContractInput): ContractCheck[] {
  const options = optionsOf(input);
  return listChecks(options)
    .filter((check) => check.skip === undefined)
    .map((check) => ({ name: check.name, run: () => runOne(options, check) }));
}

/** Runs every check, one after another, and reports each one's outcome. */
export async function runTargetContract(input: TargetContractInput): Promise<ContractReport> {
  const options = optionsOf(input);
  const report: ContractReport = { passed: [], failed: [], skipped: [] };
  for (const check of listChecks(options)) {
    if (check.skip !== undefined) {
      report.skipped.push({ name: check.name, reason: check.skip });
      continue;
    }
    try {
      await runOne(options, check);
      report.passed.push(check.name);
    } catch (error) {
      report.failed.push({ name: check.name, message: error instanceof Error ? error.message : String(error) });
    }
  }
  return report;
}

async function runOne(options: TargetContractOptions, check: Listed): Promise<void> {
  const target = options.target();
  try {
    await check.body(target);
  } finally {
    await within(Promise.resolve(target.close?.()), settle(options), `${target.id}: close() did not settle`).catch(() => undefined);
  }
}

function listChecks(options: TargetContractOptions): Listed[] {
  const probe = options.target();
  if (probe === null || typeof probe !== 'object' || typeof (probe as { then?: unknown }).then === 'function') {
    throw new ContractViolation('options.target() must return a Target synchronously (constructing a target does no I/O)');
  }
  // The probe only reads what the target declares; it did no I/O, and its close() frees nothing used.
  void Promise.resolve(probe.close?.()).catch(() => undefined);
  const has = (method: keyof Target) => typeof probe[method] === 'function';
  const text = probe.modalities?.includes('text') && (has('doGenerate') || has('doStream'));
  const noText = 'the target declares no text generation';
  return [
    { name: 'declares an id, a kind, its modalities and a method for each', body: async (target) => checkShape(target) },
    { name: 'doGenerate answers with text, a finish reason and sane usage', skip: has('doGenerate') ? undefined : 'the target has no doGenerate', body: (target) => checkGenerate(target, options) },
    { name: 'doStream yields well-formed parts and ends with exactly one finish', skip: has('doStream') ? undefined : 'the target has no doStream', body: (target) => checkStream(target, options) },
    {
      name: 'doStream and doGenerate give the same answer to the same call',
      skip: !options.deterministic ? 'the target is not declared deterministic' : has('doStream') && has('doGenerate') ? undefined : 'the target lacks doStream or doGenerate',
      body: (target) => checkStreamMatchesGenerate(target, options),
    },
    { name: 'breaking out of a stream closes it and leaves the target usable', skip: has('doStream') ? undefined : 'the target has no doStream', body: (target) => checkBreak(target, options) },
    { name: 'a call whose signal is already aborted rejects at once with ABORTED', skip: text || has('doEmbed') ? undefined : noText, body: (target) => checkPreAborted(target, options) },
    {
      name: 'an abort in flight settles the call fast (honoursAbort)',
      skip: probe.honoursAbort !== true ? 'the target does not declare honoursAbort (the executor guards it instead)' : text ? undefined : noText,
      body: (target) => checkAbortInFlight(target, options),
    },
    { name: 'failures are InferlaneErrors naming the target, without secrets', skip: text ? undefined : noText, body: (target) => checkErrors(target, options) },
    { name: 'concurrent calls each get their own answer', skip: has('doGenerate') ? undefined : 'the target has no doGenerate', body: (target) => checkConcurrent(target, options) },
    { name: 'embeddings come back one per input, in input order, whatever the batch', skip: has('doEmbed') ? undefined : 'the target has no doEmbed', body: (target) => checkEmbeddings(target, options) },
    { name: 'the calls it is given are left as they were', skip: text || has('doEmbed') ? undefined : noText, body: (target) => checkNoMutation(target, options) },
    { name: 'available() answers available, downloadable or unavailable', skip: has('available') ? undefined : 'the target has no available()', body: (target) => checkAvailable(target, options) },
    { name: 'close() may be called twice', skip: has('close') ? undefined : 'the target has no close()', body: (target) => checkClose(target, options) },
  ];
}

// ---------------------------------------------------------------- the checks

function checkShape(target: Target): void {
  expect(typeof target.id === 'string' && target.id.trim() !== '', `id must be a non-empty string; got ${describe(target.id)}`);
  expect(kinds.has(target.kind), `${target.id}: kind must be device, realtime, cloud or batch; got ${describe(target.kind)}`);
  expect(Array.isArray(target.modalities) && target.modalities.length > 0, `${target.id}: modalities must list at least one modality`);
  for (const modality of target.modalities) {
    const methods = modalityMethods[modality];
    expect(methods !== undefined, `${target.id}: unknown modality ${describe(modality)}`);
    expect(
      methods.some((method) => typeof target[method] === 'function'),
      `${target.id}: declares '${modality}' but has none of ${methods.join(', ')}`,
    );
  }
  expect(target.honoursAbort === undefined || typeof target.honoursAbort === 'boolean', `${target.id}: honoursAbort must be a boolean`);
  for (const [name, value] of Object.entries(target.limits ?? {})) {
    expect(value === undefined || (Number.isFinite(value) && value > 0), `${target.id}: limits.${name} must be a positive number; got ${describe(value)}`);
  }
  if (target.batch) {
    const batch = target.batch;
    expect(Number.isInteger(batch.maxItems) && batch.maxItems > 0, `${target.id}: batch.maxItems must be a positive integer`);
    expect(Number.isFinite(batch.maxBytes) && batch.maxBytes > 0, `${target.id}: batch.maxBytes must be positive`);
    for (const method of ['itemBytes', 'submit', 'findByMetadata', 'status', 'results', 'cancel'] as const) {
      expect(typeof batch[method] === 'function', `${target.id}: batch.${method} must be a function`);
    }
    const bytes = batch.itemBytes({ customId: 'contract-0', operation: 'text', call: defaultCall });
    expect(Number.isInteger(bytes) && bytes > 0, `${target.id}: batch.itemBytes must be a positive integer; got ${describe(bytes)}`);
  }
}

async function checkGenerate(target: Target, options: TargetContractOptions): Promise<void> {
  const result = await within(target.doGenerate!(frozen(callOf(options)), context(options)), timeout(options), `${target.id}: doGenerate did not answer`);
  checkTextResult(target, result);
}

async function checkStream(target: Target, options: TargetContractOptions): Promise<void> {
  const parts = await within(collect(target.doStream!(frozen(callOf(options)), context(options))), timeout(options), `${target.id}: doStream did not end`);
  checkParts(target, parts);
}

async function checkStreamMatchesGenerate(target: Target, options: TargetContractOptions): Promise<void> {
  const generated = await within(target.doGenerate!(frozen(callOf(options)), context(options)), timeout(options), `${target.id}: doGenerate did not answer`);
  const parts = await within(collect(target.doStream!(frozen(callOf(options)), context(options))), timeout(options), `${target.id}: doStream did not end`);
  const streamed = parts.map((part) => (part.type === 'text-delta' ? part.text : '')).join('');
  expect(streamed === generated.text, `${target.id}: the stream said ${describe(clip(streamed))} where doGenerate said ${describe(clip(generated.text))}`);
  const finish = parts.at(-1) as Extract<StreamPart, { type: 'finish' }> | undefined;
  expect(finish?.finishReason === generated.finishReason, `${target.id}: the stream finished '${finish?.finishReason}' where doGenerate finished '${generated.finishReason}'`);
}

async function checkBreak(target: Target, options: TargetContractOptions): Promise<void> {
  await options.arrange?.('slow-stream');
  const iterator = target.doStream!(frozen(callOf(options)), context(options))[Symbol.asyncIterator]();
  let first: IteratorResult<StreamPart>;
  do first = await within(iterator.next(), timeout(options), `${target.id}: doStream gave no first part`);
  while (!first.done && first.value.type !== 'text-delta');
  expect(!first.done, `${target.id}: the stream ended without any text, nothing to break out of`);
  // What `break` in a `for await` does: return() on the iterator.
  await within(Promise.resolve(iterator.return?.()), settle(options), `${target.id}: leaving the stream (return()) did not settle within ${settle(options)} ms`);
  if (options.requestClosed) {
    const closed = await within(Promise.resolve(options.requestClosed()), settle(options), `${target.id}: the request was still open ${settle(options)} ms after the consumer left`);
    expect(closed === true, `${target.id}: breaking out of the stream did not close the request`);
  }
  // Whatever the stream held (a connection, a model lock, a queue slot) is free again.
  const next: Promise<unknown> = target.doGenerate ? target.doGenerate(frozen(callOf(options)), context(options)) : collect(target.doStream!(frozen(callOf(options)), context(options)));
  await within(next, timeout(options), `${target.id}: after a stream was left early, the next call did not answer (something the stream held was not released)`);
}

async function checkPreAborted(target: Target, options: TargetContractOptions): Promise<void> {
  const runs: [string, () => Promise<unknown>][] = [];
  if (target.doGenerate) runs.push(['doGenerate', () => target.doGenerate!(frozen(callOf(options)), context(options, AbortSignal.abort()))]);
  if (target.doStream) runs.push(['doStream', () => collect(target.doStream!(frozen(callOf(options)), context(options, AbortSignal.abort())))]);
  if (target.doEmbed) runs.push(['doEmbed', () => target.doEmbed!(frozen({ inputs: inputsOf(options) }), context(options, AbortSignal.abort()))]);
  for (const [method, run] of runs) {
    const outcome = await settled(invoke(run), settle(options));
    expect(outcome.settled, `${target.id}: ${method} with an aborted signal did not settle within ${settle(options)} ms`);
    expect(!outcome.ok, `${target.id}: ${method} with an aborted signal answered instead of refusing`);
    expectAborted(target, method, outcome.error);
  }
}

async function checkAbortInFlight(target: Target, options: TargetContractOptions): Promise<void> {
  const abortAfterMs = options.abortAfterMs ?? 20;
  if (target.doGenerate) {
    const hangs = (await options.arrange?.('hang')) !== false && options.arrange !== undefined;
    const controller = new AbortController();
    const call = invoke(() => target.doGenerate!(frozen(callOf(options)), context(options, controller.signal)));
    await sleep(abortAfterMs);
    controller.abort();
    const outcome = await settled(call, settle(options));
    expect(outcome.settled, `${target.id}: doGenerate did not settle within ${settle(options)} ms of its abort${hangs ? ' (the request was hanging)' : ''}`);
    // An answer that landed before the abort is fine unless the request was made to hang.
    if (hangs || !outcome.ok) {
      expect(!outcome.ok, `${target.id}: a hanging doGenerate answered after its abort`);
      expectAborted(target, 'doGenerate', outcome.error);
    }
  }
  if (target.doStream) {
    await options.arrange?.('slow-stream');
    const controller = new AbortController();
    const iterator = target.doStream(frozen(callOf(options)), context(options, controller.signal))[Symbol.asyncIterator]();
    const first = await within(iterator.next(), timeout(options), `${target.id}: doStream gave no first part`);
    if (first.done) return;
    controller.abort();
    // Parts already produced may still come; the stream must end (with ABORTED, or its finish) soon.
    const started = systemClock.now();
    for (;;) {
      const outcome = await settled(invoke(() => iterator.next()), Math.max(1, settle(options) - (systemClock.now() - started)));
      expect(outcome.settled, `${target.id}: a stream went on for more than ${settle(options)} ms after its abort`);
      if (!outcome.ok) {
        expectAborted(target, 'doStream', outcome.error);
        return;
      }
      const step = outcome.value as IteratorResult<StreamPart>;
      if (step.done || step.value.type === 'finish') return;
    }
  }
}

async function checkErrors(target: Target, options: TargetContractOptions): Promise<void> {
  const arranged = options.arrange !== undefined && (await options.arrange('fail')) !== false;
  const call: TextCall = arranged ? callOf(options) : { messages: [] };
  const what = arranged ? 'a failing call' : 'a call without messages';
  const first: () => Promise<unknown> = target.doGenerate
    ? () => target.doGenerate!(frozen(call), context(options))
    : () => collect(target.doStream!(frozen(call), context(options)));
  const outcome = await settled(invoke(first), timeout(options));
  expect(outcome.settled, `${target.id}: ${what} did not settle`);
  expect(!outcome.ok, `${target.id}: ${what} answered instead of failing`);
  expectInferlaneError(target, outcome.error, what, options);
  if (target.doStream && target.doGenerate) {
    const again = arranged && (await options.arrange!('fail')) !== false;
    const streamed = await settled(invoke(() => collect(target.doStream!(frozen(again ? callOf(options) : { messages: [] }), context(options)))), timeout(options));
    expect(streamed.settled && !streamed.ok, `${target.id}: ${what} as a stream did not fail`);
    expectInferlaneError(target, streamed.error, `${what} as a stream`, options);
  }
}

async function checkConcurrent(target: Target, options: TargetContractOptions): Promise<void> {
  const base = callOf(options);
  const calls = [0, 1, 2].map((index): TextCall => ({ ...base, messages: [...base.messages.slice(0, -1), { role: 'user', content: `${base.messages.at(-1)?.content ?? ''} (${index})` }] }));
  const results = await within(Promise.all(calls.map((call) => target.doGenerate!(frozen(call), context(options)))), timeout(options), `${target.id}: concurrent doGenerate calls did not all answer`);
  results.forEach((result) => checkTextResult(target, result));
}

async function checkEmbeddings(target: Target, options: TargetContractOptions): Promise<void> {
  const inputs = inputsOf(options);
  expect(new Set(inputs).size === inputs.length && inputs.length >= 2, 'options.embedInputs must hold at least 2 different inputs');
  const run = (list: string[]) => within(target.doEmbed!(frozen({ inputs: list }), context(options)), timeout(options), `${target.id}: doEmbed did not answer`);
  const forward = await run(inputs);
  expect(Array.isArray(forward?.embeddings) && forward.embeddings.length === inputs.length, `${target.id}: ${inputs.length} inputs gave ${forward?.embeddings?.length} vectors`);
  const width = forward.embeddings[0]?.length;
  for (const [index, vector] of forward.embeddings.entries()) {
    expect(Array.isArray(vector) && vector.length > 0 && vector.length === width, `${target.id}: vector ${index} is not a list of ${width} numbers`);
    expect(vector.every((value) => typeof value === 'number' && Number.isFinite(value)), `${target.id}: vector ${index} holds a value that is not a finite number`);
  }
  expect(!forward.embeddings.every((vector) => close(vector, forward.embeddings[0])), `${target.id}: every input got the same vector`);
  checkUsage(target, forward.usage);
  // Each input alone is the reference: a batch must give every input its own vector, at its index.
  for (const [index, input] of inputs.entries()) {
    const alone = await run([input]);
    expect(alone.embeddings?.length === 1, `${target.id}: one input gave ${alone.embeddings?.length} vectors`);
    expect(close(forward.embeddings[index], alone.embeddings[0]), `${target.id}: vector ${index} of the batch is not the vector of ${describe(input)} alone: vectors do not come back in input order (or depend on their batch)`);
  }
  const backward = await run([...inputs].reverse());
  inputs.forEach((input, index) => {
    expect(close(backward.embeddings[inputs.length - 1 - index], forward.embeddings[index]), `${target.id}: the vector of ${describe(input)} changes with its place in the batch`);
  });
}

async function checkNoMutation(target: Target, options: TargetContractOptions): Promise<void> {
  // The other checks pass frozen calls (a write throws); this one also compares them after.
  const call = callOf(options);
  const before = JSON.stringify(call);
  if (target.doGenerate) await within(target.doGenerate(call, context(options)), timeout(options), `${target.id}: doGenerate did not answer`);
  if (target.doStream) await within(collect(target.doStream(call, context(options))), timeout(options), `${target.id}: doStream did not end`);
  expect(JSON.stringify(call) === before, `${target.id}: a call came back changed`);
  if (target.doEmbed) {
    const embedCall: EmbedCall = { inputs: inputsOf(options) };
    const embedBefore = JSON.stringify(embedCall);
    await within(target.doEmbed(embedCall, context(options)), timeout(options), `${target.id}: doEmbed did not answer`);
    expect(JSON.stringify(embedCall) === embedBefore, `${target.id}: doEmbed changed its inputs`);
  }
}

async function checkAvailable(target: Target, options: TargetContractOptions): Promise<void> {
  const availability = await within(target.available!(new AbortController().signal), timeout(options), `${target.id}: available() did not answer`);
  expect(availabilities.has(availability), `${target.id}: available() answered ${describe(availability)}`);
}

async function checkClose(target: Target, options: TargetContractOptions): Promise<void> {
  await within(Promise.resolve(target.close!()), settle(options), `${target.id}: close() did not settle`);
  await within(Promise.resolve(target.close!()), settle(options), `${target.id}: a second close() did not settle`);
}

// ---------------------------------------------------------------- what a good answer looks like

function checkTextResult(target: Target, result: TextResult): void {
  expect(result !== null && typeof result === 'object', `${target.id}: doGenerate answered ${describe(result)}, not a TextResult`);
  expect(typeof result.text === 'string', `${target.id}: doGenerate's text is ${describe(result.text)}, not a string`);
  expect(finishReasons.has(result.finishReason), `${target.id}: doGenerate's finishReason ${describe(result.finishReason)} is not a FinishReason`);
  checkUsage(target, result.usage);
}

function checkParts(target: Target, parts: StreamPart[]): void {
  expect(parts.length > 0, `${target.id}: the stream yielded nothing`);
  parts.forEach((part, index) => {
    expect(part !== null && typeof part === 'object', `${target.id}: part ${index} is ${describe(part)}`);
    expect(part.type !== 'resumed', `${target.id}: part ${index} is 'resumed', which only the executor emits`);
    expect(part.type !== 'error', `${target.id}: part ${index} is an error part in a call that should work`);
    expect(['text-delta', 'usage', 'finish'].includes(part.type), `${target.id}: part ${index} has the unknown type ${describe(part.type)}`);
    if (part.type === 'text-delta') expect(typeof part.text === 'string' && part.text.length > 0, `${target.id}: text-delta ${index} carries ${describe(part.text)}; deltas carry text`);
    if (part.type === 'usage') checkUsage(target, part.usage);
  });
  const finishes = parts.filter((part) => part.type === 'finish');
  expect(finishes.length === 1, `${target.id}: the stream had ${finishes.length} finish parts; it must end with exactly one`);
  const last = parts.at(-1)!;
  expect(last.type === 'finish', `${target.id}: the stream's last part is '${last.type}'; it must end with its finish`);
  if (last.type === 'finish') {
    expect(finishReasons.has(last.finishReason), `${target.id}: finishReason ${describe(last.finishReason)} is not a FinishReason`);
    checkUsage(target, last.usage);
  }
}

function checkUsage(target: Target, usage: Usage | undefined): void {
  if (usage === undefined) return;
  expect(usage !== null && typeof usage === 'object', `${target.id}: usage is ${describe(usage)}`);
  for (const [key, value] of Object.entries(usage)) {
    if (value === undefined) continue;
    if (key === 'serviceTier') {
      expect(typeof value === 'string', `${target.id}: usage.serviceTier is ${describe(value)}, not a string`);
      continue;
    }
    expect(typeof value === 'number' && Number.isFinite(value) && value >= 0, `${target.id}: usage.${key} is ${describe(value)}, not a non-negative number`);
    if (key.endsWith('Tokens') || key === 'images') expect(Number.isInteger(value), `${target.id}: usage.${key} is ${value}, not a whole count`);
  }
}

function expectAborted(target: Target, method: string, error: unknown): void {
  expect(InferlaneError.isInstance(error), `${target.id}: ${method} aborted with ${describeError(error)}, not an InferlaneError`);
  expect((error as InferlaneError).code === 'ABORTED' || (error as InferlaneError).code === 'DEADLINE_EXCEEDED', `${target.id}: ${method} aborted with code ${(error as InferlaneError).code}, not ABORTED`);
}

function expectInferlaneError(target: Target, error: unknown, what: string, options: TargetContractOptions): void {
  expect(InferlaneError.isInstance(error), `${target.id}: ${what} failed with ${describeError(error)}, not an InferlaneError`);
  const failure = error as InferlaneError;
  // A refused input names its field instead (InvalidRequestError); every other failure names the target.
  if (failure.code !== 'INVALID_REQUEST') expect(failure.target === target.id, `${target.id}: ${what} failed with target ${describe(failure.target)}; errors name the target they came from`);
  const shown = `${failure.message} ${JSON.stringify(typeof failure.toJSON === 'function' ? failure.toJSON() : {})}`;
  for (const secret of options.secrets ?? []) expect(!shown.includes(secret), `${target.id}: ${what} failed with an error that shows a secret`);
}

// ---------------------------------------------------------------- helpers

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new ContractViolation(message);
}

function callOf(options: TargetContractOptions): TextCall {
  return structuredClone(options.call ?? defaultCall);
}

function inputsOf(options: TargetContractOptions): string[] {
  return [...(options.embedInputs ?? defaultInputs)];
}

function settle(options: TargetContractOptions): number {
  return options.settleMs ?? 2000;
}

function timeout(options: TargetContractOptions): number {
  return options.timeoutMs ?? 20_000;
}

function context(options: TargetContractOptions, signal: AbortSignal = new AbortController().signal): CallContext {
  return { signal, deadline: systemClock.now() + timeout(options), segment: 'interactive', emit() {} };
}

/** A deep-frozen copy: an adapter that writes to the call it was given throws. */
function frozen<T extends object>(value: T): T {
  const freeze = (item: unknown): void => {
    if (item === null || typeof item !== 'object' || Object.isFrozen(item)) return;
    Object.freeze(item);
    for (const key of Object.keys(item)) freeze((item as Record<string, unknown>)[key]);
  };
  freeze(value);
  return value;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** Calls `run`, turning a synchronous throw into a rejection. */
function invoke<T>(run: () => Promise<T>): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error);
  }
}

type Settled = { settled: false } | { settled: true; ok: true; value: unknown } | { settled: true; ok: false; error: unknown };

/** How `promise` settled within `ms`, if it did; the timer never outlives the wait. */
function settled(promise: Promise<unknown>, ms: number): Promise<Settled> {
  return new Promise((resolve) => {
    const timer = systemClock.setTimeout(() => resolve({ settled: false }), ms);
    promise.then(
      (value) => {
        systemClock.clearTimeout(timer);
        resolve({ settled: true, ok: true, value });
      },
      (error: unknown) => {
        systemClock.clearTimeout(timer);
        resolve({ settled: true, ok: false, error });
      },
    );
  });
}

/** `promise`'s value, or a ContractViolation with `message` when it takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  const outcome = await settled(promise, ms);
  if (!outcome.settled) throw new ContractViolation(`${message} (waited ${ms} ms)`);
  if (!outcome.ok) throw outcome.error;
  return outcome.value as T;
}

function close(a: number[] | undefined, b: number[] | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  const scale = Math.max(1, ...b.map(Math.abs));
  return a.every((value, index) => Math.abs(value - b[index]) <= 1e-4 * scale);
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : describe(error);
}
