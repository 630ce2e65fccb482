// Recording one request's usage from a Node service, with the server's problem details typed.
import { recordUsageEvents } from 'tally-client';

export async function recordRequest(tenantId: string, requestId: string): Promise<void> {
  const { data, error, response } = await recordUsageEvents({
    path: { tenant_id: tenantId },
    body: {
      events: [
        { feature_key: 'api_calls', quantity: 1, idempotency_key: requestId, timestamp: new Date().toISOString() },
      ],
    },
  });
  if (error) {
    // 409 when the key was used with other content, or a rejecting limit refuses the batch.
    console.error(response?.status, error.type, error.detail);
  } else {
    console.log(data.accepted, data.duplicates); // a re-sent request: 0 1
  }
}
