/** The agent's durable store: its public API (the modules beside this one are its parts). */
export { AgentStore, type StoreOptions } from './agent-store.ts';
export { DuplicateAssignmentError, SchemaVersionError, StoreConsistencyError } from './errors.ts';
export type { AssignmentRow, TaskRow } from './rows.ts';
