import { ToolError, ToolMissingError } from '@kplane/core';

/** For `.catch()` of a read: a tool that ran and failed answers `fallback`; a tool that is not installed still fails. */
export function whenToolFails<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if (error instanceof ToolError && !(error instanceof ToolMissingError)) return fallback;
    throw error;
  };
}
