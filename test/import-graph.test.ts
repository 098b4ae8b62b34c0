/**
 * The import graph of src/: arrows point down only (DESIGN.md section 3) and no files import
 * each other in a loop. Every file of src/ stands on a floor, named below by path (the longest
 * prefix wins); a file may import files on its own floor or lower ones, never higher. A new file
 * that no floor names fails the test until it is placed. Imports are read with TypeScript's own
 * pre-processor (type-only imports count: a type cycle is still a cycle of ideas).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Floors, ground first. Ground: what every room may use (errors, the Target contract, time and
 * signals, validation primitives). Contracts: shapes shared across rooms. Parts: the rooms that
 * keep state of their own (stats, stores, conversations, batching). Then routing and execution,
 * then the client that composes them, then the package's entry points.
 */
const floors: [floor: number, name: string, paths: string[]][] = [
  [1, 'ground', ['src/errors.ts', 'src/http-status.ts', 'src/target.ts', 'src/time/', 'src/tokens.ts', 'src/runtime.ts', 'src/random.ts', 'src/validation/']],
  [2, 'contracts and target helpers', ['src/types.ts', 'src/cost.ts', 'src/target-runner.ts', 'src/text-bridges.ts', 'src/router/types.ts', 'src/stores/store.ts', 'src/batching/micro-batcher.types.ts',]],
  [3, 'parts', ['src/stats/', 'src/stores/', 'src/conversation/', 'src/batching/']],
  [4, 'routing and execution', ['src/router/', 'src/execute/']],
  [5, 'client', ['src/client/', 'src/validate.ts', 'src/realtime/']],
  [6, 'entry points', ['src/index.ts', 'src/core.ts', 'src/provider.ts', 'src/testing.ts', 'src/testing/', 'src/cli.ts']],
];

/**
 * Arrows known to run up while another branch moves the file that draws them (the jobs facade
 * still takes its validation from the client's validate.ts). Each must still exist: once it is
 * gone, the test fails until its line here is deleted, so none outlives its reason.
 */
const pending: [from: string, to: string][] = [];

function floorOf(file: string): [number, string] | undefined {
  let best: [number, string, number] | undefined;
  for (const [floor, name, paths] of floors) {
    for (const path of paths) {
      const matches = path.endsWith('/') ? file.startsWith(path) : file === path;
      if (matches && (best === undefined || path.length > best[2])) best = [floor, name, path.length];
    }
  }
  return best && [best[0], best[1]];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** file -> the files of this repository it imports (relative specifiers, `.js` read as `.ts`). */
function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
    const targets = info.importedFiles
      .map((imported) => imported.fileName)
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => relative(root, resolve(root, dirname(file), specifier)).replace(/\.js$/, '.ts'));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Strongly connected components with more than one file (or a file importing itself): Tarjan's. */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** Every arrow that runs up a floor, or leaves src/ from below the entry points, as 'from -> to'. */
function upwardArrows(graph: Map<string, string[]>): string[] {
  const arrows: string[] = [];
  for (const [from, targets] of graph) {
    const placedFrom = floorOf(from);
    if (placedFrom === undefined) continue; // reported by 'places every file on a floor'
    const [fromFloor] = placedFrom;
    for (const to of targets) {
      if (!to.startsWith('src/')) {
        // Only an entry point may reach outside the core (the CLI loads a provider lazily).
        if (fromFloor < 6) arrows.push(`${from} -> ${to} (outside src/)`);
        continue;
      }
      const placed = floorOf(to);
      if (placed && placed[0] > fromFloor) arrows.push(`${from} (floor ${fromFloor}) -> ${to} (floor ${placed[0]}, ${placed[1]})`);
    }
  }
  return arrows.sort();
}

const files = sourceFiles('src');
const graph = importGraph(files);

describe('the import graph of src/', () => {
  it('places every file on a floor', () => {
    expect(files.filter((file) => floorOf(file) === undefined)).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('has no arrow that runs up a floor, save the pending ones, each of which still exists', () => {
    const pendingArrows = new Set(pending.map(([from, to]) => `${from} -> ${to}`));
    const upward = upwardArrows(graph).filter((arrow) => !pendingArrows.has(arrow.replace(/ \(floor \d+(, [^)]*)?\)/g, '')));
    expect(upward).toEqual([]);
    const stale = pending.filter(([from, to]) => !(graph.get(from) ?? []).includes(to)).map(([from, to]) => `${from} -> ${to}`);
    expect(stale, 'pending arrows that no longer exist: delete them from `pending`').toEqual([]);
  });

  it('finds a cycle and an upward arrow when there is one (the checks can fail)', () => {
    const broken = new Map<string, string[]>([
      ['src/errors.ts', ['src/client/client.ts']],
      ['src/client/client.ts', ['src/errors.ts']],
    ]);
    expect(cycles(broken)).toEqual([['src/client/client.ts', 'src/errors.ts']]);
    expect(upwardArrows(broken)).toEqual(['src/errors.ts (floor 1) -> src/client/client.ts (floor 5, client)']);
  });
});
