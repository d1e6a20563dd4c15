/**
 * The layout of the seed's scripts/api/common.py: display() prints
 * "Collection Members" for a list and "Member Information" for an object;
 * submit() prints "Response". Values print as Python would show them.
 */

export function pyValue(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The member's URL as Galaxy's REST style names it: its own `url`, or the collection URL plus its id. */
function memberUrl(item: Json, collectionPath: string): string | null {
  if (typeof item.url === 'string') return item.url;
  if (typeof item.id === 'string') return `${collectionPath.replace(/\/+$/, '')}/${item.id}`;
  return null;
}

function member(item: Json, collectionPath: string): string[] {
  const lines: string[] = [];
  const url = memberUrl(item, collectionPath);
  if (url !== null) lines.push(url);
  if ('name' in item) lines.push(`  name: ${pyValue(item.name)}`);
  for (const [k, v] of Object.entries(item)) {
    if (k === 'url' || k === 'name') continue;
    lines.push(`  ${k}: ${pyValue(v)}`);
  }
  return lines;
}

/** display.py: `requestPath` is the path that was asked for (members without a url get one below it). */
export function formatDisplay(body: unknown, requestPath: string): string {
  const lines: string[] = [];
  if (Array.isArray(body)) {
    lines.push('Collection Members', '------------------');
    if (body.length === 0) lines.push('', '0 elements in collection');
    for (const item of body) {
      if (isObject(item)) lines.push(...member(item, requestPath));
      else lines.push(pyValue(item));
    }
  } else if (isObject(body)) {
    lines.push('Member Information', '------------------');
    for (const [k, v] of Object.entries(body)) lines.push(`${k}: ${pyValue(v)}`);
  } else {
    lines.push(pyValue(body));
  }
  return `${lines.join('\n')}\n`;
}

/** submit(): each created element with its url, name and other fields. */
export function formatResponse(body: unknown, requestPath: string): string {
  const lines: string[] = ['Response', '--------'];
  const items = Array.isArray(body) ? body : [body];
  for (const item of items) {
    if (isObject(item)) lines.push(...member(item, requestPath));
    else lines.push(pyValue(item));
  }
  return `${lines.join('\n')}\n`;
}
