/**
 * A child AbortController: aborts with its parent (or with `other` too, when given), or on its own
 * (a hedge lost, a stream timeout, a cut-short sleep). `release` removes its listeners.
 *
 * Imports: nothing.
 */
export function childController(parent: AbortSignal, other?: AbortSignal): { controller: AbortController; release(): void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parent.aborted ? parent.reason : other!.reason);
  if (parent.aborted || other?.aborted) onAbort();
  else {
    parent.addEventListener('abort', onAbort, { once: true });
    other?.addEventListener('abort', onAbort, { once: true });
  }
  return {
    controller,
    release: () => {
      parent.removeEventListener('abort', onAbort);
      other?.removeEventListener('abort', onAbort);
    },
  };
}
