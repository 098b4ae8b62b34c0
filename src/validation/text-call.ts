/**
 * What a text call says, checked alike wherever one is made: the client's `generate`/`stream`
 * and a job's text items (`prefix` leads each field's name there, e.g. `items[2].`).
 *
 * Imports: ../errors, ../target (types), ./checks.
 */
import { InvalidRequestError } from '../errors.js';
import type { Message, TextCall } from '../target.js';
import { describe, isObject, nonNegativeNumber } from './checks.js';

export function validateMessages(messages: unknown, field = 'messages'): asserts messages is Message[] {
  if (!Array.isArray(messages)) throw new InvalidRequestError(field, `must be an array of messages; got ${describe(messages)}`);
  if (messages.length === 0) throw new InvalidRequestError(field, 'must contain at least one message');
  for (let index = 0; index < messages.length; index++) {
    const message: unknown = messages[index];
    if (typeof message !== 'object' || message === null || Array.isArray(message)) throw new InvalidRequestError(`${field}[${index}]`, 'must be an object with role and content');
    const { role, content } = message as { role?: unknown; content?: unknown };
    if (role !== 'user' && role !== 'system' && role !== 'assistant' && role !== 'tool') {
      throw new InvalidRequestError(`${field}[${index}].role`, `must be one of system, user, assistant, tool; got ${describe(role)}`);
    }
    if (typeof content !== 'string') {
      throw new InvalidRequestError(`${field}[${index}].content`, `must be a string; got ${describe(content)}`);
    }
    const name = (message as { name?: unknown }).name;
    if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
      throw new InvalidRequestError(`${field}[${index}].name`, `must be a non-empty string; got ${describe(name)}`);
    }
  }
}

/**
 * What a call or a job item says: `messages` or a non-empty `prompt`, not both, and a string
 * `system`. `prefix` leads each field's name (`items[2].`).
 */
export function validateText(source: { messages?: unknown; prompt?: unknown; system?: unknown }, prefix: string): void {
  if (source.messages !== undefined && source.prompt !== undefined) throw new InvalidRequestError(`${prefix}prompt`, 'give either messages or prompt, not both');
  if (source.system !== undefined && typeof source.system !== 'string') throw new InvalidRequestError(`${prefix}system`, `must be a string; got ${describe(source.system)}`);
  if (source.messages !== undefined) validateMessages(source.messages, `${prefix}messages`);
  else if (source.prompt === undefined) throw new InvalidRequestError(`${prefix}messages`, 'give messages or prompt');
  else if (typeof source.prompt !== 'string' || source.prompt.length === 0) throw new InvalidRequestError(`${prefix}prompt`, `must be a non-empty string; got ${describe(source.prompt)}`);
}

/** `providerOptions` of a call or a job item: options keyed by provider name. */
export function validateProviderOptions(value: unknown, field: string): void {
  if (value !== undefined && !isObject(value)) throw new InvalidRequestError(field, 'must be an object keyed by provider name');
}

/** The generation settings of a call or a job item; `prefix` leads each field's name (`items[2].`). */
export function validateSampling(options: Pick<TextCall, 'maxOutputTokens' | 'temperature' | 'topP' | 'seed' | 'stop'>, prefix: string): void {
  nonNegativeNumber(options.maxOutputTokens, `${prefix}maxOutputTokens`, { integer: true, positive: true });
  nonNegativeNumber(options.temperature, `${prefix}temperature`);
  if (options.topP !== undefined) {
    nonNegativeNumber(options.topP, `${prefix}topP`);
    if (options.topP > 1) throw new InvalidRequestError(`${prefix}topP`, `must be between 0 and 1 (a probability mass); got ${options.topP}`);
  }
  if (options.seed !== undefined && !Number.isSafeInteger(options.seed)) throw new InvalidRequestError(`${prefix}seed`, `must be an integer; got ${describe(options.seed)}`);
  if (options.stop !== undefined && (!Array.isArray(options.stop) || options.stop.some((s) => typeof s !== 'string'))) throw new InvalidRequestError(`${prefix}stop`, 'must be an array of strings');
}
