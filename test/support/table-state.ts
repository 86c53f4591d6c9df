import type { TableState } from '../../src/schema/ensure.js';

/**
 * What a table check finds on a table that exists and can hold sessions: of schema `version`, its
 * ids of the form `idForm` (the `sid` column's comment; undefined before schema 2), partitioned
 * exactly when `partitioning` is given.
 */
export function tableState(version: number, idForm?: string, partitioning?: TableState['partitioning']): TableState {
  return {
    exists: true,
    version,
    columnProblem: undefined,
    idForm,
    pepperId: undefined,
    partitioned: partitioning !== undefined,
    partitioning,
    schema: 'public',
  };
}
