import { tableSqlScript } from '../../schema/ddl.js';
import { pruneFunctionSql } from '../../schema/prune-function.js';
import type { TableNames } from '../../sql.js';
import { type CommandLine, partitioningOption, sessionIdsOption } from '../args.js';
import { EXIT_OK } from '../errors.js';
import type { Runner } from '../io.js';

export function schemaCommand(line: CommandLine, names: TableNames): Runner {
  const idForm = sessionIdsOption(line);
  const partitioning = partitioningOption(line);
  const text =
    line.options['prune-function'] === true ? pruneFunctionSql(names) : tableSqlScript(names, idForm, partitioning);
  return async (_db, io) => {
    io.out(text);
    return EXIT_OK;
  };
}
