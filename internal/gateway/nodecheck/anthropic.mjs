// Anthropic's Node SDK, unchanged, against Spectra's gateway. The Go test
// (nodecheck_anthropic_test.go) starts Spectra and runs this with ANTHROPIC_BASE_URL,
// ANTHROPIC_API_KEY (the workspace's inference key, read by the SDK as it reads a real
// one) and SPECTRA_MODEL; it prints one JSON line of what it saw, which the test checks
// against the ledger. Exit status 1 on any surprise.
import Anthropic from '@anthropic-ai/sdk';

const model = process.env.SPECTRA_MODEL;
const out = {};
const client = new Anthropic({ maxRetries: 0 }); // the base URL and key from the environment

// One answer, with the raw response for Spectra's headers.
const { data: msg, response } = await client.messages
  .create({ model, max_tokens: 100, messages: [{ role: 'user', content: 'hello from node' }] })
  .withResponse();
out.whole = { usage: msg.usage, text: msg.content[0].text, requestId: response.headers.get('x-request-id'),
  cost: response.headers.get('x-spectra-cost') };

// A stream, accumulated by the SDK's helper.
const stream = client.messages.stream({ model, max_tokens: 100, messages: [{ role: 'user', content: 'stream from node' }] });
let deltas = 0;
stream.on('text', () => { deltas++; });
const final = await stream.finalMessage();
out.stream = { usage: final.usage, stop: final.stop_reason, deltas, text: final.content[0].text };

// Token counting: forwarded, not charged.
out.count = await client.messages.countTokens({ model, messages: [{ role: 'user', content: 'count me please' }] });

// The same SDK with ANTHROPIC_AUTH_TOKEN's way (Authorization: Bearer).
const bearer = new Anthropic({ apiKey: null, authToken: process.env.ANTHROPIC_API_KEY, maxRetries: 0 });
const viaBearer = await bearer.messages.create({ model, max_tokens: 10, messages: [{ role: 'user', content: 'bearer' }] });
out.bearer = { usage: viaBearer.usage };

// A wrong key: the SDK's own error class, from Anthropic's error shape.
try {
  await new Anthropic({ apiKey: 'sk-wrong', maxRetries: 0 }).messages.create({ model, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
  out.badKey = 'no error';
} catch (e) {
  out.badKey = { class: e.constructor.name, status: e.status, type: e.error?.error?.type, code: e.error?.error?.code };
}

console.log(JSON.stringify(out));
