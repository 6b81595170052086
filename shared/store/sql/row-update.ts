/**
 * A run's UPDATE by id in parts, so that the updates of several runs that have the same shape can
 * share one statement. On MySQL one UPDATE of 40 rows costs the server a fifth of what 40 UPDATEs of
 * one row cost (BENCHMARKS.md, issue 11): each statement is parsed, planned and run on its own, and
 * a correlated pause check runs once per statement. Pure: no I/O.
 *
 * A merged UPDATE matches exactly the rows its parts would have matched one by one (the same SET,
 * the same conditions, each row's own values), so a group commit that finds it matched all of them
 * gives each part the result its own statement would have had (one row); when it matched fewer,
 * the group is rolled back and every part runs alone (group-commit.ts).
 */
/** One statement and its parameters, as a group commit carries it. */
export interface Statement {
  readonly sql: string;
  readonly params: readonly unknown[];
  /** The same write in parts, when it is a run's UPDATE that others of its shape can share. @default none */
  readonly row?: RowUpdate;
}

/** One run's UPDATE by id: `UPDATE table SET … WHERE run_id = id AND <match> AND <where>`. */
export interface RowUpdate {
  /** The table as the UPDATE names it (`piko_runs FORCE INDEX (PRIMARY)` on MySQL). */
  readonly table: string;
  /** The run's id. */
  readonly runId: number;
  /** The columns set, each to its value (a parameter). */
  readonly set: readonly (readonly [column: string, value: unknown])[];
  /** Conditions on this row's columns: `column = value`, or `column IS NULL` for a null value. */
  readonly match: readonly (readonly [column: string, value: unknown])[];
  /** A condition that reads the same for every row of its shape (SQL; empty for none). */
  readonly where: string;
  /** The parameters of {@link where}. */
  readonly whereParams: readonly unknown[];
}

/** One statement of a batch: a write's own, or the merged UPDATE of several writes' rows. */
export interface MergedStatement {
  readonly statement: Statement;
  /** The writes (their indices in what was merged) whose results this statement gives. */
  readonly sources: readonly number[];
  /** The rows a merged UPDATE must match, every one of its writes' rows; undefined for a write's own statement. */
  readonly expectedRows?: number;
}

/**
 * The single-row statement of `row`. Its text is built when first read: where updates are merged
 * (MySQL), most rows go in a merged statement and never need their own.
 */
export function rowUpdateStatement(row: RowUpdate): Statement {
  return new RowUpdateStatement(row);
}

class RowUpdateStatement implements Statement {
  readonly row: RowUpdate;
  #built: { sql: string; params: unknown[] } | undefined;

  constructor(row: RowUpdate) {
    this.row = row;
  }

  get sql(): string {
    return this.#build().sql;
  }

  get params(): readonly unknown[] {
    return this.#build().params;
  }

  #build(): { sql: string; params: unknown[] } {
    if (this.#built) return this.#built;
    const row = this.row;
    const [matchSql, matchParams] = matchCondition(row);
    this.#built = {
      sql: `UPDATE ${row.table} SET ${row.set.map(([column]) => `${column} = ?`).join(', ')} WHERE ${matchSql}${row.where}`,
      params: [...row.set.map(([, value]) => value), ...matchParams, ...row.whereParams],
    };
    return this.#built;
  }
}

/**
 * The statements of a batch, in order, with the writes that carry a {@link RowUpdate} of the same
 * shape (table, columns set, columns matched and which of them are null, shared condition) and of
 * distinct runs merged into one UPDATE each, at most `maxChars` of estimated statement text (the
 * merged statement takes the place of its first write). A write without a row update, or alone of
 * its shape, keeps its own statement.
 */
export function mergeRowUpdates(statements: readonly Statement[], maxChars: number): MergedStatement[] {
  const merged: (MergedStatement | undefined)[] = [];
  /** Per shape, the open merge: where it sits in `merged`, its rows and their estimated text. */
  const open = new Map<
    string,
    { at: number; rows: RowUpdate[]; sources: number[]; ids: Set<number>; chars: number }
  >();
  const close = (shape: string) => {
    const group = open.get(shape);
    if (!group) return;
    open.delete(shape);
    merged[group.at] =
      group.rows.length === 1
        ? { statement: statements[group.sources[0]!]!, sources: group.sources }
        : { statement: mergedStatement(group.rows), sources: group.sources, expectedRows: group.rows.length };
  };
  statements.forEach((statement, index) => {
    const row = statement.row;
    if (!row) {
      merged.push({ statement, sources: [index] });
      return;
    }
    const shape = shapeOf(row);
    const chars = estimatedChars(row);
    let group = open.get(shape);
    if (group && (group.ids.has(row.runId) || group.chars + chars > maxChars)) {
      close(shape);
      group = undefined;
    }
    if (!group) {
      group = { at: merged.length, rows: [], sources: [], ids: new Set(), chars: 0 };
      open.set(shape, group);
      merged.push(undefined);
    }
    group.rows.push(row);
    group.sources.push(index);
    group.ids.add(row.runId);
    group.chars += chars;
  });
  for (const shape of [...open.keys()]) close(shape);
  return merged as MergedStatement[];
}

/**
 * `UPDATE table SET c = ? | CASE run_id WHEN ? THEN ? … END, … WHERE run_id IN (…) AND ((run_id = ?
 * AND <match>) OR …) AND <shared match><where>`: a column every row sets to the same value is set
 * once, and a column every row matches on the same value is matched once, outside the rows' terms
 * (`(a ∧ b) ∨ (a ∧ c)` is `a ∧ (b ∨ c)`, in SQL's three-valued logic too): the server parses and
 * evaluates each row's own conditions only (the run's last update, say), not its owner's again.
 */
function mergedStatement(rows: readonly RowUpdate[]): Statement {
  const first = rows[0]!;
  const params: unknown[] = [];
  const assignments = first.set.map(([column], position) => {
    const values = rows.map((row) => row.set[position]![1]);
    if (values.every((value) => sameValue(value, values[0]))) {
      params.push(values[0]);
      return `${column} = ?`;
    }
    const cases = rows.map((row, index) => {
      params.push(row.runId, values[index]);
      return 'WHEN ? THEN ?';
    });
    return `${column} = CASE run_id ${cases.join(' ')} END`;
  });
  params.push(...rows.map((row) => row.runId));
  const shared = first.match.map(([, value], position) =>
    rows.every((row) => sameValue(row.match[position]![1], value)),
  );
  const matches = rows.map((row) => {
    const [sql, matchParams] = matchCondition(row, shared);
    params.push(...matchParams);
    return `(${sql})`;
  });
  const sharedMatch = first.match
    .filter((_, position) => shared[position])
    .map(([column, value]) => {
      if (value === null) return ` AND ${column} IS NULL`;
      params.push(value);
      return ` AND ${column} = ?`;
    })
    .join('');
  params.push(...first.whereParams);
  return {
    sql:
      `UPDATE ${first.table} SET ${assignments.join(', ')} WHERE run_id IN (${rows.map(() => '?').join(', ')}) ` +
      `AND (${matches.join(' OR ')})${sharedMatch}${first.where}`,
    params,
  };
}

/**
 * `run_id = ? AND column = ? AND column IS NULL …`, with its parameters; the columns `skip` marks
 * (by position) left out.
 */
function matchCondition(row: RowUpdate, skip?: readonly boolean[]): [string, unknown[]] {
  const params: unknown[] = [row.runId];
  const conditions = ['run_id = ?'];
  row.match.forEach(([column, value], position) => {
    if (skip?.[position]) return;
    if (value === null) {
      conditions.push(`${column} IS NULL`);
    } else {
      conditions.push(`${column} = ?`);
      params.push(value);
    }
  });
  return [conditions.join(' AND '), params];
}

/**
 * What must be equal for two rows to share a statement, as one key (column names are identifiers
 * from the store's own code; the shared parameters are encoded as JSON).
 */
function shapeOf(row: RowUpdate): string {
  let key = `${row.table}|`;
  for (const [column] of row.set) key += `${column},`;
  key += '|';
  for (const [column, value] of row.match) key += value === null ? `${column} null,` : `${column},`;
  key += `|${row.where}|`;
  for (const value of row.whereParams) key += `${JSON.stringify(paramKey(value))},`;
  return key;
}

function paramKey(value: unknown): unknown {
  return value instanceof Date ? `date ${value.getTime()}` : value;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}

/** A generous estimate of a row's share of a merged statement's text, values inlined and escaped. */
function estimatedChars(row: RowUpdate): number {
  let chars = 40;
  for (const [column, value] of row.set) chars += column.length + 30 + valueChars(value);
  for (const [column, value] of row.match) chars += column.length + 30 + valueChars(value);
  return chars;
}

function valueChars(value: unknown): number {
  if (typeof value === 'string') return 2 * value.length + 2;
  if (value === null || value === undefined) return 4;
  return 30;
}
