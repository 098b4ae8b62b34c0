/**
 * One stream call: what the executor runs it with, how it opens on a target's runner, and how it
 * ends (the client's finish part with its route, the `response` or `error` event). Methods on
 * one object rather than closures made per call.
 *
 * Imports: execute/types (types), target and types (types), ./options (types), ./report.
 */
import type EventEmitter from 'eventemitter3';
import type { AttemptInfo, StreamOutcome, StreamSetup } from '../execute/types.js';
import type { CallContext, Message, StreamPart, Target, TextCall } from '../target.js';
import type { GenerateRequest, StreamRequest } from '../types.js';
import type { ClientEvents, ClientStreamPart } from './options.js';
import { reportError, routeOf } from './report.js';

export class StreamCall implements StreamSetup<ClientStreamPart> {
  constructor(
    private readonly events: EventEmitter<ClientEvents>,
    private readonly request: StreamRequest,
    private readonly messages: Message[],
    readonly options: StreamSetup<ClientStreamPart>['options'],
  ) {}

  /** `target` is the planned target's runner: it streams, whatever the target itself implements. */
  open(target: Target, ctx: CallContext, info: AttemptInfo, partial: string): AsyncIterable<StreamPart> {
    const base = info.prepared?.messages ?? this.messages;
    return target.doStream!(textCall(this.request, partial ? [...base, { role: 'assistant', content: partial }] : base), ctx);
  }

  finish(outcome: StreamOutcome): ClientStreamPart {
    const route = routeOf(this.options.plan, outcome, outcome.usage, 'text');
    this.events.emit('response', { operation: 'stream', route });
    return { type: 'finish', finishReason: outcome.finishReason, usage: outcome.usage, route };
  }

  failed(error: unknown): void {
    reportError(this.events, 'stream', error);
  }
}

/** The text call a request makes with these messages. */
export function textCall(request: GenerateRequest, messages: TextCall['messages']): TextCall {
  return {
    messages,
    maxOutputTokens: request.maxOutputTokens,
    temperature: request.temperature,
    topP: request.topP,
    stop: request.stop,
    seed: request.seed,
    providerOptions: request.providerOptions,
  };
}
