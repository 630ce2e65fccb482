// A billing page's usage card: this month's totals per day, read through the generated TanStack Query options.
import { useQuery } from '@tanstack/react-query';
import { client } from 'tally-client/client';
import { getUsageTotalsOptions } from 'tally-client/react-query';

// Once, where the app starts: where Tally is, and the viewer token of the signed-in tenant.
client.setConfig({ baseUrl: 'https://tally.example.com', auth: () => sessionStorage.getItem('tally-token') ?? '' });

export function UsageTotals({ tenantId }: { tenantId: string }) {
  const { data, error, isPending } = useQuery(
    getUsageTotalsOptions({ path: { tenant_id: tenantId }, query: { window_size: 'day', timezone: 'Europe/Berlin' } }),
  );
  if (isPending) return <p>Loading…</p>;
  if (error) return <p role="alert">{error.detail}</p>; // a typed Problem: status, type, title, detail
  return (
    <ul>
      {data.map((total) => (
        <li key={`${total.feature_key} ${total.window_start}`}>
          {total.window_start.slice(0, 10)} {total.feature_key}: {total.quantity} {total.unit}
        </li>
      ))}
    </ul>
  );
}
