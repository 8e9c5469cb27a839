/** A rejected API object: names the object and the field, so an operator can find and fix it. */
export class InvalidObjectError extends Error {
  constructor(
    readonly kind: string,
    /** `namespace/name`, or just `name` for cluster-scoped objects. */
    readonly ref: string,
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${kind} ${ref}: ${field ? `${field}: ` : ''}${detail}`);
    this.name = 'InvalidObjectError';
  }
}

export type Validated<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: InvalidObjectError };

/** `spec.ports[1].port` from a path of keys. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), '');
}

/** Thrown by the converters for rules a schema cannot express; turned into an InvalidObjectError by the caller. */
export class FieldError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}
