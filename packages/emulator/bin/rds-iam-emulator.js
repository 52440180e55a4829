#!/usr/bin/env node
// The command is built into dist/. This launcher exists in the repository itself, so that
// `pnpm install` on a fresh clone links the command before anything is built (a bin path into
// dist/ fails there, with a warning for every package that depends on this one).
require('../dist/bin.js');
