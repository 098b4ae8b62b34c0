/**
 * One llama.cpp binary per process, shared by every llamacpp target. node-llama-cpp loads one
 * native addon and its logger is process-wide: a second `getLlama` would take the log from the
 * first, and llama.cpp's reasons for a failed load arrive only through that log. So the binary is
 * loaded once (per library object) and kept for the life of the process, and its log is kept here
 * with a running number so each load can read what it caused. Never disposed: in node-llama-cpp
 * 3.21.1 a binary loaded again after a dispose sends llama.cpp's native log to stdout instead of
 * the logger (measured), and an idle binary does not keep the process alive (measured: a script
 * that loads it and ends exits at once). Targets dispose their own models and contexts.
 *
 * Imports: nothing of the core (types of node-llama-cpp only).
 */
import type { Llama } from 'node-llama-cpp';

export interface LlamaLibrary {
  getLlama(options: Record<string, unknown>): Promise<Llama>;
}

interface LogEntry {
  at: number;
  level: string;
  line: string;
}

const shared = new WeakMap<LlamaLibrary, Promise<Llama>>();
const log: LogEntry[] = [];
let logged = 0;

function logger(level: string, message: string): void {
  // Info and debug lines are many and never explain a failure.
  if (level !== 'error' && level !== 'fatal' && level !== 'warn') return;
  log.push({ at: logged++, level, line: message.trim() });
  if (log.length > 64) log.shift();
}

/** A position in the log; `reasonSince(mark)` reads the errors logged after it. */
export function markLog(): number {
  return logged;
}

/** The first distinct errors llama.cpp logged since `mark`, as ': reason' (empty when none). */
export function reasonSince(mark: number): string {
  const lines = [...new Set(log.filter((entry) => entry.at >= mark && entry.level !== 'warn').map((entry) => entry.line))];
  return lines.length > 0 ? `: ${lines.slice(0, 2).join(' / ').slice(0, 400)}` : '';
}

/**
 * The shared binary, loading it on first use: the prebuilt CPU build only (no GPU probing, no
 * build from source, no source download). A failed load is forgotten, so a later call tries again.
 */
export function sharedLlama(library: LlamaLibrary): Promise<Llama> {
  let llama = shared.get(library);
  if (!llama) {
    // Threads are set per context; no process-wide cap.
    llama = library.getLlama({ gpu: false, build: 'never', skipDownload: true, usePrebuiltBinaries: true, progressLogs: false, logLevel: 'warn', logger, maxThreads: 0 });
    shared.set(library, llama);
    const failed = llama;
    llama.catch(() => {
      if (shared.get(library) === failed) shared.delete(library);
    });
  }
  return llama;
}
