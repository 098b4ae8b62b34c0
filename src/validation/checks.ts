/**
 * Validation primitives (floor 1): each throws an InvalidRequestError that names the field.
 *
 * Imports: ../errors.
 */
import { InvalidRequestError } from '../errors.js';

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value as an error message shows it: its type, a number, or a string cut at 40 characters. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** An optional number that, when given, is finite and not negative (`positive`: above 0; `integer`: whole). */
export function nonNegativeNumber(value: unknown, field: string, options: { integer?: boolean; positive?: boolean } = {}): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (options.positive && value === 0)) {
    throw new InvalidRequestError(field, `must be a ${options.positive ? 'positive' : 'non-negative'} finite number, got ${describe(value)}`);
  }
  if (options.integer && !Number.isInteger(value)) throw new InvalidRequestError(field, `must be an integer, got ${value}`);
}

/** An optional share from 0 to 1 (`open`: 0 and 1 excluded). */
export function fraction(value: unknown, field: string, options: { open?: boolean } = {}): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1) || (options.open && (value === 0 || value === 1))) {
    throw new InvalidRequestError(field, `must be a number ${options.open ? 'between 0 and 1, exclusive' : 'from 0 to 1'}; got ${describe(value)}`);
  }
}

/** An optional settings object: undefined when absent, else the object (anything else throws). */
export function section(value: unknown, field: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw new InvalidRequestError(field, `must be an object; got ${describe(value)}`);
  return value;
}

/** An optional setting that, when given, is a non-empty string (a voice, a language, a media type). */
export function optionalText(value: unknown, field: string): void {
  if (value !== undefined && (typeof value !== 'string' || value.length === 0)) throw new InvalidRequestError(field, `must be a non-empty string; got ${describe(value)}`);
}

/** Whether `value` is an object with a function under each of `methods` (a store, a clock). */
export function implementsMethods(value: unknown, methods: readonly string[]): boolean {
  return isObject(value) && methods.every((name) => typeof value[name] === 'function');
}

const storeMethods = ['get', 'set', 'compareAndSet', 'delete', 'append', 'range', 'list'];

/** An optional store that, when given, implements the KeyValueStore contract (src/stores/store.ts). */
export function validateStore(store: unknown, field: string): void {
  if (store !== undefined && !implementsMethods(store, storeMethods)) {
    throw new InvalidRequestError(field, `must implement the KeyValueStore contract (${storeMethods.join(', ')})`);
  }
}
