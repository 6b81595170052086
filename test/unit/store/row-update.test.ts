import { describe, expect, it } from 'vitest';
import { mergeRowUpdates, type RowUpdate, rowUpdateStatement } from '../../../shared/store/sql/row-update.ts';

const T = new Date('2026-03-01T00:00:00.000Z');
const succeeded = (runId: number, generation: number, output: string | null = null): RowUpdate => ({
  table: 'piko_runs',
  runId,
  set: [
    ['status', 'succeeded'],
    ['output', output],
    ['finished_at', T],
  ],
  match: [
    ['execution_name', 'e1'],
    ['generation', generation],
  ],
  where: " AND status NOT IN ('cancelled', 'skipped')",
  whereParams: [],
});

describe('rowUpdateStatement', () => {
  it('is one UPDATE by id with its matched columns, null as IS NULL', () => {
    const statement = rowUpdateStatement({ ...succeeded(7, 0), match: [['stage', null]] });
    expect(statement.sql).toBe(
      "UPDATE piko_runs SET status = ?, output = ?, finished_at = ? WHERE run_id = ? AND stage IS NULL AND status NOT IN ('cancelled', 'skipped')",
    );
    expect(statement.params).toEqual(['succeeded', null, T, 7]);
  });
});

describe('mergeRowUpdates', () => {
  it('merges rows of one shape into one UPDATE, a value every row sets set once, one every row matches matched once', () => {
    const merged = mergeRowUpdates(
      [rowUpdateStatement(succeeded(1, 0, 'a')), rowUpdateStatement(succeeded(2, 3))],
      16_000,
    );
    expect(merged).toHaveLength(1);
    expect(merged[0]!.sources).toEqual([0, 1]);
    expect(merged[0]!.expectedRows).toBe(2);
    expect(merged[0]!.statement.sql).toBe(
      'UPDATE piko_runs SET status = ?, output = CASE run_id WHEN ? THEN ? WHEN ? THEN ? END, finished_at = ? ' +
        'WHERE run_id IN (?, ?) AND ((run_id = ? AND generation = ?) OR (run_id = ? AND generation = ?)) ' +
        "AND execution_name = ? AND status NOT IN ('cancelled', 'skipped')",
    );
    expect(merged[0]!.statement.params).toEqual(['succeeded', 1, 'a', 2, null, T, 1, 2, 1, 0, 2, 3, 'e1']);
  });

  it('keeps a write of another shape, a statement without parts and a second write of one run apart, in order', () => {
    const plain = { sql: 'UPDATE piko_jobs SET paused = 1', params: [] };
    const otherShape = rowUpdateStatement({ ...succeeded(3, 0), match: [['execution_name', null]] });
    const merged = mergeRowUpdates(
      [
        rowUpdateStatement(succeeded(1, 0)),
        plain,
        rowUpdateStatement(succeeded(2, 0)),
        otherShape,
        rowUpdateStatement(succeeded(1, 0)),
      ],
      16_000,
    );
    expect(merged.map((entry) => [entry.sources, entry.expectedRows])).toEqual([
      [[0, 2], 2],
      [[1], undefined],
      [[3], undefined],
      [[4], undefined],
    ]);
    expect(merged[1]!.statement).toBe(plain);
  });

  it('starts a new UPDATE before its estimated text passes the limit', () => {
    const rows = Array.from({ length: 50 }, (_, i) =>
      rowUpdateStatement(succeeded(i + 1, 0, 'x'.repeat(100))),
    );
    const merged = mergeRowUpdates(rows, 4_000);
    expect(merged.length).toBeGreaterThan(1);
    expect(merged.flatMap((entry) => entry.sources)).toEqual(rows.map((_, i) => i));
    for (const entry of merged)
      expect(entry.statement.sql.length + 250 * entry.sources.length).toBeLessThan(8_000);
  });
});
