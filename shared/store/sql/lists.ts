/** Rows per multi-row INSERT, and ids per `IN (…)` list. */
export const CHUNK_SIZE = 1_000;

/** `items` in slices of {@link CHUNK_SIZE}. */
export function* chunks<T>(items: readonly T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += CHUNK_SIZE) yield items.slice(i, i + CHUNK_SIZE);
}

/** `?, ?, …`: `count` placeholders for an `IN (…)` list. */
export function placeholders(count: number): string {
  return Array(count).fill('?').join(', ');
}
