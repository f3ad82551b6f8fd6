/**
 * Writes docs/cli.md, the command-line reference, from the option registry and the commands'
 * flags (src/cli/reference.ts). `npm run docs:cli`; test/cli/reference.test.ts fails when the
 * file and the code differ.
 */
import * as fs from 'fs';
import * as path from 'path';
import { cliReference } from '../src/cli/reference';

const file = path.join(__dirname, '..', '..', 'docs', 'cli.md');
fs.writeFileSync(file, cliReference());
process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
