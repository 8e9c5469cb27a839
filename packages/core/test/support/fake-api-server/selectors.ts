/** Label and field selectors as the API server parses them (the subset of the grammar clients send). */

export type Selector = (object: ApiObject) => boolean;

export interface ApiObject {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string; [key: string]: unknown };
  [key: string]: unknown;
}

type Requirement = (values: Record<string, string>) => boolean;

const SET = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/;
const EQUALITY = /^([^\s!=]+)\s*(==|=|!=)\s*(\S*)$/;
const EXISTS = /^(!?)\s*([^\s!=(),]+)$/;

/** `a=b,c!=d,!e,f,g in (h,i),j notin (k)`: every requirement must hold. */
export function labelSelector(text: string | null): Selector {
  const requirements = parseRequirements(text);
  return (object) => requirements.every((requirement) => requirement(object.metadata.labels ?? {}));
}

/** `metadata.name=x,metadata.namespace!=y`: the fields every resource supports. */
export function fieldSelector(text: string | null): Selector {
  const requirements = parseRequirements(text);
  return (object) => requirements.every((requirement) => requirement({
    'metadata.name': object.metadata.name,
    'metadata.namespace': object.metadata.namespace ?? '',
  }));
}

function parseRequirements(text: string | null): Requirement[] {
  if (!text) return [];
  return splitTopLevel(text).map((part) => {
    const set = SET.exec(part);
    if (set) {
      const [, key, operator, list] = set as unknown as [string, string, string, string];
      const values = new Set(list.split(',').map((value) => value.trim()));
      return operator === 'in' ? (labels) => key in labels && values.has(labels[key]!) : (labels) => !(key in labels) || !values.has(labels[key]!);
    }
    const equality = EQUALITY.exec(part);
    if (equality) {
      const [, key, operator, value] = equality as unknown as [string, string, string, string];
      return operator === '!=' ? (labels) => labels[key] !== value : (labels) => labels[key] === value;
    }
    const exists = EXISTS.exec(part);
    if (exists) {
      const [, not, key] = exists as unknown as [string, string, string];
      return not ? (labels) => !(key in labels) : (labels) => key in labels;
    }
    throw new SelectorError(`unable to parse requirement: ${JSON.stringify(part)}`);
  });
}

/** Splits on the commas that separate requirements, not those inside `in (a,b)`. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    if (text[index] === '(') depth++;
    else if (text[index] === ')') depth--;
    else if (text[index] === ',' && depth === 0) {
      parts.push(text.slice(start, index).trim());
      start = index + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts.filter(Boolean);
}

export class SelectorError extends Error {}
