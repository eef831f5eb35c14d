#!/usr/bin/env node
import { runBundle } from './load.js';

await runBundle('sandbox/main');
