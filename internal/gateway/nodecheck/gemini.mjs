// Google's Node SDK (@google/genai), unchanged, against Spectra's gateway. The Go test
// (nodecheck_gemini_test.go) starts Spectra and runs this with GOOGLE_GEMINI_BASE_URL
// (Spectra's address, read by the SDK as Gemini CLI sets it), GEMINI_API_KEY (the
// workspace's inference key) and SPECTRA_MODEL; it prints one JSON line of what it saw,
// which the test checks against the ledger. Exit status 1 on any surprise.
import { GoogleGenAI } from '@google/genai';

const model = process.env.SPECTRA_MODEL;
const out = {};
const ai = new GoogleGenAI({}); // the key and the base URL from the environment

// One answer.
const whole = await ai.models.generateContent({ model, contents: 'hello from node' });
out.whole = { usage: whole.usageMetadata, text: whole.text,
  requestId: whole.sdkHttpResponse?.headers?.['x-request-id'] ?? '' };

// A stream (server-sent events, alt=sse), read chunk by chunk.
let chunks = 0;
let text = '';
let usage = null;
let finish = '';
for await (const chunk of await ai.models.generateContentStream({ model, contents: 'stream from node' })) {
  chunks++;
  text += chunk.text ?? '';
  usage = chunk.usageMetadata ?? usage;
  finish = chunk.candidates?.[0]?.finishReason ?? finish;
}
out.stream = { chunks, text, usage, finish };

// A function call.
const tool = await ai.models.generateContent({ model, contents: 'weather in Paris',
  config: { tools: [{ functionDeclarations: [{ name: 'get_weather', description: 'The weather in a city' }] }] } });
out.tool = { calls: tool.functionCalls, usage: tool.usageMetadata };

// Token counting: forwarded, not charged.
out.count = await ai.models.countTokens({ model, contents: 'count me please' });

// A wrong key: the SDK's own error, from Google's error shape.
try {
  await new GoogleGenAI({ apiKey: 'sk-wrong' }).models.generateContent({ model, contents: 'x' });
  out.badKey = 'no error';
} catch (e) {
  out.badKey = { class: e.constructor.name, status: e.status, message: e.message };
}

console.log(JSON.stringify(out));
