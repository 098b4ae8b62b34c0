/**
 * Checks a model generator (scripts/generate-*.mjs): it writes, into a fresh folder, exactly the
 * bytes committed under models/, so the committed model is what anyone can regenerate offline.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Regenerates `model` with `script` and compares every file; returns the size of its `sizeOf` file (onnx/model.onnx), bytes. */
export function expectRegeneratesCommittedModel(script: string, model: string, files: string[], sizeOf = 'onnx/model.onnx'): number {
  const out = mkdtempSync(join(tmpdir(), `${model}-`));
  try {
    execFileSync(process.execPath, [join(repoRoot, script), '--out', out, '--quiet']);
    for (const file of files) {
      const fresh = readFileSync(join(out, model, file));
      expect(fresh.equals(readFileSync(join(repoRoot, 'models', model, file))), file).toBe(true);
    }
    return readFileSync(join(out, model, sizeOf)).length;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
