/**
 * The one difference between a job workflow on AWS and locally: aws-local-stepfunctions has no
 * Distributed Map (FACTS.md), so a local run turns each Distributed Map state into the inline Map it
 * would be at a concurrency of 40 or less: the same `ItemsPath`, `ItemSelector`, `MaxConcurrency`,
 * `ResultPath` and item processor (the same Task, Retry and Catch states of every run). Pure; the
 * local executor and the artifact tier's Step Functions endpoint both run definitions through it.
 */

/** An ASL state, as far as the translation reads it. */
interface AslState {
  readonly Type?: unknown;
  readonly ItemProcessor?: AslStates & { readonly ProcessorConfig?: { readonly Mode?: unknown } };
  readonly Iterator?: AslStates;
  readonly Branches?: readonly AslStates[];
  readonly [field: string]: unknown;
}

/** A state machine, or the states of an item processor or a branch. */
interface AslStates {
  readonly States?: Readonly<Record<string, AslState>>;
  readonly [field: string]: unknown;
}

/**
 * Fields only a Distributed Map has that the translation drops. They configure the Map Run, not the
 * runs: a label names the child executions, and the failure tolerance decides whether failed
 * children fail the Map. Piko's item processors catch every error (a run that cannot even record its
 * failure ends through "Failure not recorded"), so no iteration fails locally and nothing is left to
 * tolerate; a definition error (`States.Runtime`) fails the local Map where AWS would tolerate it.
 */
export const DISTRIBUTED_ONLY_FIELDS = [
  'Label',
  'ToleratedFailurePercentage',
  'ToleratedFailurePercentagePath',
  'ToleratedFailureCount',
  'ToleratedFailureCountPath',
] as const;

/** Distributed Map fields that change what the iterations get or give: not translated, refused. */
const UNTRANSLATABLE_FIELDS = ['ItemReader', 'ItemBatcher', 'ResultWriter'] as const;

/**
 * The definition with every Distributed Map state (at any depth) turned into an inline Map:
 * `ProcessorConfig` becomes `{ Mode: INLINE }` (no `ExecutionType`) and
 * {@link DISTRIBUTED_ONLY_FIELDS} are dropped; everything else is kept as it is. A definition without
 * a Distributed Map comes back equal to what was given. Never mutates its argument.
 * @throws Error naming the state when a Distributed Map reads, batches or writes its items elsewhere
 *   (`ItemReader`, `ItemBatcher`, `ResultWriter`): Piko's workflows do not, and no inline Map can.
 */
export function toInlineMap<T extends object>(definition: T): T {
  return translateStates(definition as AslStates) as T;
}

/** {@link toInlineMap} of ASL text, as ASL text. */
export function aslWithInlineMaps(asl: string): string {
  return JSON.stringify(toInlineMap(JSON.parse(asl) as object));
}

function translateStates(level: AslStates): AslStates {
  if (level.States === undefined) return level;
  const states: Record<string, AslState> = {};
  for (const [name, state] of Object.entries(level.States)) states[name] = translateState(name, state);
  return { ...level, States: states };
}

function translateState(name: string, state: AslState): AslState {
  let translated: AslState = state;
  if (state.Branches) translated = { ...translated, Branches: state.Branches.map(translateStates) };
  if (state.Iterator) translated = { ...translated, Iterator: translateStates(state.Iterator) };
  const processor = state.ItemProcessor;
  if (!processor) return translated;
  const inner = translateStates(processor);
  if (state.Type !== 'Map' || processor.ProcessorConfig?.Mode !== 'DISTRIBUTED') {
    return { ...translated, ItemProcessor: inner };
  }
  const refused = UNTRANSLATABLE_FIELDS.filter((field) => state[field] !== undefined);
  if (refused.length > 0) {
    throw new Error(
      `Distributed Map state "${name}" has ${refused.join(', ')}: an inline Map cannot run it locally; ` +
        'give the items in the state input (ItemsPath) and keep the results in the state',
    );
  }
  const inline: Record<string, unknown> = { ...translated };
  for (const field of DISTRIBUTED_ONLY_FIELDS) delete inline[field];
  inline.ItemProcessor = { ...inner, ProcessorConfig: { Mode: 'INLINE' } };
  return inline as AslState;
}
