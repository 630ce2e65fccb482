// The SDK against a live Tally server: started by tests/e2e/test_typescript_sdk.py, which passes the base URL,
// a tenant, an admin and a viewer token in the environment.
import { QueryClient } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';

import { getUsageTotals, recordUsageEvents, type Problem, type UsageTotal } from '../src/client';
import { getUsageTotalsOptions, getUsageTotalsQueryKey } from '../src/client/@tanstack/react-query.gen';
import { createClient, createConfig } from '../src/client/client';

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through tests/e2e/test_typescript_sdk.py`);
  return value;
}

const baseUrl = setting('TALLY_BASE_URL');
const tenant = setting('TALLY_TENANT');
const admin = createClient(createConfig({ baseUrl, auth: setting('TALLY_ADMIN_TOKEN') }));
const viewer = createClient(createConfig({ baseUrl, auth: setting('TALLY_VIEWER_TOKEN') }));
const period = { period_start: '2026-11-01T00:00:00Z', period_end: '2026-12-01T00:00:00Z' };
const events = [
  { feature_key: 'api_calls', quantity: 3, timestamp: '2026-11-25T10:15:00Z', idempotency_key: 'ts-1' },
  { feature_key: 'api_calls', quantity: 4, timestamp: '2026-11-26T08:00:00Z', idempotency_key: 'ts-2' },
];

function quantityOf(totals: UsageTotal[] | undefined, featureKey: string): number | undefined {
  return totals?.find((total) => total.feature_key === featureKey)?.quantity;
}

describe('the TypeScript SDK against a live server', () => {
  it('records a batch, exactly once', async () => {
    const first = await recordUsageEvents({ client: admin, path: { tenant_id: tenant }, body: { events } });
    expect(first.response?.status).toBe(200);
    expect(first.data).toEqual({ accepted: 2, duplicates: 0 });
    const again = await recordUsageEvents({ client: admin, path: { tenant_id: tenant }, body: { events } });
    expect(again.data).toEqual({ accepted: 0, duplicates: 2 });
  });

  it('reads the totals', async () => {
    const { data, error } = await getUsageTotals({
      client: viewer,
      path: { tenant_id: tenant },
      query: { feature_keys: ['api_calls'], ...period },
    });
    expect(error).toBeUndefined();
    expect(data).toHaveLength(1);
    expect(quantityOf(data, 'api_calls')).toBe(7);
    expect(data?.[0]?.unit).toBe('requests');
  });

  it('reads a 409 as a typed problem', async () => {
    const changed = [{ ...events[0]!, quantity: 30 }];
    const { data, error, response } = await recordUsageEvents({
      client: admin,
      path: { tenant_id: tenant },
      body: { events: changed },
    });
    expect(response?.status).toBe(409);
    expect(data).toBeUndefined();
    const problem: Problem | undefined = error;
    expect(problem?.status).toBe(409);
    expect(problem?.type).toMatch(/^urn:tally:problem:/);
    expect(problem?.detail).toContain('ts-1');
  });

  it("gives the query hook's key and fetcher", async () => {
    const options = { client: viewer, path: { tenant_id: tenant }, query: { feature_keys: ['api_calls'], ...period } };
    const query = getUsageTotalsOptions(options);
    expect(query.queryKey).toEqual(getUsageTotalsQueryKey(options));
    expect(query.queryKey[0]).toMatchObject({ _id: 'getUsageTotals', path: { tenant_id: tenant } });
    const other = getUsageTotalsQueryKey({ ...options, path: { tenant_id: '00000000-0000-4000-8000-000000000999' } });
    expect(other).not.toEqual(query.queryKey);

    const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    const totals = await queryClient.fetchQuery(query); // what useQuery(getUsageTotalsOptions(...)) runs
    expect(quantityOf(totals, 'api_calls')).toBe(7);
    expect(queryClient.getQueryData(query.queryKey)).toEqual(totals);
  });
});
