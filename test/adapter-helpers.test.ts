/**
 * The helpers adapters share (src/target.ts, src/errors.ts): one mapping of OpenAI-style finish
 * reasons, one stop-sequence cut, one test for "no usable response arrived".
 */
import { describe, expect, it } from 'vitest';
import { cutAtStop, finishReasonOf } from '../src/target.js';
import { isNetworkFailure, networkFailureCode } from '../src/errors.js';

describe('finishReasonOf', () => {
  it("maps OpenAI's finish reasons and TGI's", () => {
    expect(['stop', 'eos_token', 'stop_sequence', 'length', 'content_filter', 'tool_calls', 'function_call', 'weird', null, undefined].map(finishReasonOf)).toEqual([
      'stop', 'stop', 'stop', 'length', 'content-filter', 'tool-calls', 'tool-calls', 'other', 'other', 'other',
    ]);
  });
});

describe('cutAtStop', () => {
  it('cuts at the earliest stop sequence and says so', () => {
    expect(cutAtStop('one two three', ['three', 'two'])).toEqual({ text: 'one ', stopped: true });
    expect(cutAtStop('one two', undefined)).toEqual({ text: 'one two', stopped: false });
  });
});

describe('isNetworkFailure / networkFailureCode', () => {
  it('finds a socket code or a fetch message down the cause chain', () => {
    const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect failed'), { code: 'ECONNREFUSED' }) });
    expect(isNetworkFailure(refused)).toBe(true);
    expect(networkFailureCode(refused)).toBe('ECONNREFUSED');
    const deep = new Error('outer', { cause: new Error('middle', { cause: Object.assign(new Error('inner'), { code: 'UND_ERR_SOCKET' }) }) });
    expect(isNetworkFailure(deep)).toBe(true);
    expect(networkFailureCode(deep)).toBe('UND_ERR_SOCKET');
    expect(isNetworkFailure(new TypeError('terminated'))).toBe(true);
  });

  it('does not take other failures for network ones', () => {
    expect(isNetworkFailure(new SyntaxError('Unexpected token < in JSON'))).toBe(false);
    expect(isNetworkFailure(Object.assign(new Error('bad request'), { code: 'invalid_request_error' }))).toBe(false);
    expect(isNetworkFailure('ECONNREFUSED')).toBe(false);
    expect(networkFailureCode(new Error('plain'))).toBeUndefined();
  });
});
