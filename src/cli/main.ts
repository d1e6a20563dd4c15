#!/usr/bin/env node
import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  onSignal: (signal, handler) => void process.on(signal, handler),
});
// Nothing may keep a finished command alive (a stray timer or socket): exit with its status.
process.exit();
