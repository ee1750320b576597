// Where the project's own files are at run time (dist/server/paths.js -> project root).
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
export const generatedFile = (name: string) => join(projectRoot, 'generated', name);
