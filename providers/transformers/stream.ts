/**
 * `doStream` on the device: the library's streamer calls back synchronously inside generate();
 * this bridges its text to an async iterator, holding back what may be the start of a stop
 * sequence until it is decided, and interrupts the generation when the consumer leaves.
 */
import { cutAtStop, TargetUnavailableError, type CallContext, type StreamPart, type TextCall, type TextResult } from '../../src/provider.js';
import type { Generator } from './generate.js';
import type { Session } from './session.js';

export function streamGeneration(session: Session, generator: Generator): (call: TextCall, ctx: CallContext) => AsyncIterable<StreamPart> {
  const { id } = session;
  return async function* (call, ctx) {
    generator.validate(call);
    session.throwIfAborted(ctx.signal);
    const lib = await session.library().catch((error) => {
      throw new TargetUnavailableError(`${id}: @huggingface/transformers is not installed or failed to load`, { target: id, cause: error });
    });
    const pending: string[] = [];
    let wake: (() => void) | undefined;
    const notify = (): void => {
      wake?.();
      wake = undefined;
    };
    const stopping = new lib.InterruptableStoppingCriteria();
    const holdBack = Math.max(0, ...(call.stop ?? []).map((sequence) => sequence.length - 1));
    let received = '';
    let emitted = 0;
    let stoppedEarly = false;
    const onText = (text: string): void => {
      if (stoppedEarly) return;
      received += text;
      const { text: kept, stopped } = cutAtStop(received, call.stop);
      if (stopped) {
        stoppedEarly = true;
        stopping.interrupt();
        pending.push(kept.slice(emitted));
        emitted = kept.length;
      } else if (received.length - holdBack > emitted) {
        // Keep back a possible prefix of a stop sequence until it is decided.
        pending.push(received.slice(emitted, received.length - holdBack));
        emitted = received.length - holdBack;
      }
      notify();
    };
    let outcome: { result?: TextResult; error?: unknown } | undefined;
    generator.serialise(ctx.signal, () => generator.run([call], ctx, onText, stopping)).then(
      ([result]) => ((outcome = { result }), notify()),
      (error) => ((outcome = { error }), notify()),
    );
    try {
      for (;;) {
        while (pending.length > 0) {
          session.throwIfAborted(ctx.signal);
          const text = pending.shift()!;
          if (text) yield { type: 'text-delta', text };
        }
        session.throwIfAborted(ctx.signal);
        if (outcome) break;
        await new Promise<void>((resolve) => (wake = resolve));
      }
      if (outcome.error) throw outcome.error;
      const result = outcome.result!;
      // What the stop rule held back and was not a stop sequence after all.
      const rest = result.text.slice(emitted);
      if (rest && !stoppedEarly) yield { type: 'text-delta', text: rest };
      if (result.usage) yield { type: 'usage', usage: result.usage };
      yield { type: 'finish', finishReason: result.finishReason, usage: result.usage };
    } finally {
      // A consumer that breaks out of `for await` cancels the generation (STYLE.md rule 6).
      if (!outcome) stopping.interrupt();
    }
  };
}
