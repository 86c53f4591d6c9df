#!/usr/bin/env node
'use strict';
// The `connect-pg-simple` command: see `connect-pg-simple --help`.
require('../dist/cli/main.js').runFromProcess();
