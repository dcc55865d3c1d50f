#!/usr/bin/env node
/** The `genesis` bin (package.json `bin`, built to dist/cli/main.js). See cli.ts. */
import { run } from './cli.js';

// The exit code is set, not forced with process.exit(): output still buffered in a pipe gets out.
process.exitCode = await run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
