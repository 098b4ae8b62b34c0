/**
 * The package's entry points export named symbols only: no `export *` (what an entry offers is
 * decided in the entry, not by whatever a module happens to export), and nothing marked
 * `@internal`. Read with the TypeScript compiler over the real sources.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const entries = ['src/index.ts', 'src/core.ts', 'src/testing.ts'];

/** Every name an entry exports whose declaration carries an `@internal` tag. */
function internalExports(program: ts.Program, file: string): string[] {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(join(root, file))!;
  const moduleSymbol = checker.getSymbolAtLocation(source)!;
  return checker
    .getExportsOfModule(moduleSymbol)
    .filter((symbol) => {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      return (target.declarations ?? []).some((declaration) => ts.getJSDocTags(declaration).some((tag) => tag.tagName.text === 'internal'));
    })
    .map((symbol) => symbol.name)
    .sort();
}

describe('the entry points', () => {
  const program = ts.createProgram(entries.map((file) => join(root, file)), { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, target: ts.ScriptTarget.ES2022, noEmit: true, skipLibCheck: true });

  it.each(entries)('%s re-exports by name, never with export *', (file) => {
    expect(readFileSync(join(root, file), 'utf8')).not.toMatch(/^\s*export\s+(type\s+)?\*/m);
  });

  it.each(entries)('%s exports nothing marked @internal', (file) => {
    expect(internalExports(program, file)).toEqual([]);
  });

  it('finds an @internal export when there is one (the check can fail)', () => {
    // errors.ts itself exports closedClientError, which the entries leave out.
    expect(internalExports(program, 'src/errors.ts')).toEqual(['closedClientError']);
  });
});
