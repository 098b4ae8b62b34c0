/** In-memory targets for executor and client tests: stand-ins for providers, at the edge. */
import type { StreamPart, Target } from '../../src/target.js';

/**
 * A text target that streams scripted parts, as given (an `error` part is yielded, not thrown).
 * `script` may depend on the call's index, and may be an Error the opening throws.
 * Honours its signal unless `extra` says otherwise.
 */
export function streamingTarget(id: string, script: StreamPart[] | ((call: number) => StreamPart[] | Error), extra: Partial<Target> = {}): Target & { calls: number } {
  const t: Target & { calls: number } = {
    id,
    kind: 'cloud',
    modalities: ['text'],
    honoursAbort: true,
    calls: 0,
    async *doStream(): AsyncGenerator<StreamPart> {
      const outcome: StreamPart[] | Error = typeof script === 'function' ? script(t.calls++) : (t.calls++, script);
      if (outcome instanceof Error) throw outcome;
      for (const part of outcome) yield part;
    },
    ...extra,
  };
  return t;
}
