// How src/client/ is generated from the repository's openapi.json (scripts/contract.py runs this with the pinned
// @hey-api/openapi-ts; it sets TALLY_TS_INPUT and TALLY_TS_OUTPUT to regenerate elsewhere for the drift check).
import { defineConfig } from '@hey-api/openapi-ts';

export default defineConfig({
  input: process.env.TALLY_TS_INPUT ?? '../../openapi.json',
  output: process.env.TALLY_TS_OUTPUT ?? 'src/client',
  plugins: ['@hey-api/client-fetch', '@tanstack/react-query'],
});
