/** bench/hash.ts's worker: one file's checksum off the event loop, for the comparison. */
import { parentPort, workerData } from 'node:worker_threads';
import { checksumFile } from '../src/pipeline/checksum.js';

const { file, fn, chunkBytes } = workerData as { file: string; fn: 'sha256' | 'md5'; chunkBytes: number };
const sum = await checksumFile(file, fn, { chunkBytes });
parentPort?.postMessage(sum);
