import { createHmac } from 'node:crypto';
import { GalaxyError } from './errors.js';

/**
 * Galaxy's encoded ids: opaque lowercase hex, 16 characters for ids below 10^7
 * (lib/galaxy/security/idencoding.py pads the decimal string to 8 bytes and
 * Blowfish-encrypts it). One numeric id maps to the same string in every
 * table, as in Galaxy, so a library and its root folder share their hex.
 * The emulator uses a keyed hash and a reverse map instead of Blowfish: ids
 * stay opaque and a random 16-hex string does not decode (400009), as in Galaxy.
 */
export class IdCodec {
  readonly #secret: string;
  readonly #decoded = new Map<string, number>();
  readonly #encoded = new Map<number, string>();

  constructor(secret: string) {
    this.#secret = secret;
  }

  encode(id: number): string {
    let hex = this.#encoded.get(id);
    if (hex === undefined) {
      hex = createHmac('sha256', this.#secret).update(String(id)).digest('hex').slice(0, 16);
      this.#encoded.set(id, hex);
      this.#decoded.set(hex, id);
    }
    return hex;
  }

  folder(id: number): string {
    return `F${this.encode(id)}`;
  }

  /** lib/galaxy/schema/fields.py: length a multiple of 16, hex only, then decrypt. */
  decode(value: unknown, what = 'id'): number {
    if (typeof value !== 'string' || value.length === 0 || value.length % 16 !== 0 || !/^[0-9a-f]+$/i.test(value)) {
      // Galaxy 26.1: pydantic's message, with the one validation error (docs/galaxy-notes.md).
      const msg = 'Value error, Invalid id length, must be multiple of 16';
      throw new GalaxyError(400, 400008, `${msg} in ('path', '${what}')`, {
        validation_errors: [JSON.stringify({ type: 'value_error', loc: ['path', what], msg, input: value })],
      });
    }
    const id = this.#decoded.get(value.toLowerCase());
    if (id === undefined) {
      throw new GalaxyError(400, 400009, `Wrong  id ( ${value} ) specified, unable to decode.`);
    }
    return id;
  }

  /** LibraryFolderDatabaseIdField: a leading F is required and stripped. */
  decodeFolder(value: unknown): number {
    if (typeof value !== 'string' || !value.startsWith('F')) {
      const msg = "Value error, Invalid library folder ID. Folder IDs must start with an 'F'";
      throw new GalaxyError(400, 400008, `${msg} in ('path', 'folder_id')`, {
        validation_errors: [JSON.stringify({ type: 'value_error', loc: ['path', 'folder_id'], msg, input: value })],
      });
    }
    return this.decode(value.slice(1), 'library folder id');
  }
}
