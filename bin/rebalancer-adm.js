#!/usr/bin/env node
import { runBundle } from './load.js';

await runBundle('adm/main');
