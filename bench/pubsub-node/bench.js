// The official Node.js client doing what `unibus bench --url pubsub://P` does:
// publish N messages of S bytes (batches of B), then receive and ack them all.
// ORDERED (0 or 1, default 0): create the subscription with message ordering
// enabled, as unibus does unless its URL says ordering=off (the emulator is much
// slower on ordered subscriptions, so compare like with like).
// Usage: PUBSUB_EMULATOR_HOST=HOST:PORT node bench.js PROJECT N SIZE BATCH [ORDERED]
// Prints one line: {"publish_per_s": X, "consume_per_s": Y}
const {PubSub} = require('@google-cloud/pubsub');

async function main() {
  const [project, n = '100000', size = '100', batch = '1000', ordered = '0'] = process.argv.slice(2);
  const N = Number(n), B = Number(batch);
  const pubsub = new PubSub({projectId: project});
  const name = `node-bench-${process.pid}-${Date.now()}`;
  const [topic] = await pubsub.createTopic(name);
  const [sub] = await topic.createSubscription(`${name}.bench`, {enableMessageOrdering: ordered === '1'});
  const payload = Buffer.alloc(Number(size), 'x');
  const publisher = pubsub.topic(name, {batching: {maxMessages: B, maxMilliseconds: 1}});

  let t0 = process.hrtime.bigint();
  const pending = [];
  for (let i = 0; i < N; i++) pending.push(publisher.publishMessage({data: payload}));
  await Promise.all(pending);
  const publishS = Number(process.hrtime.bigint() - t0) / 1e9;

  // Timed from the first message, as unibus bench does: opening the streams is
  // setup, not throughput.
  let got = 0;
  let first = 0n;
  const subscription = pubsub.subscription(sub.name, {flowControl: {maxMessages: 5000}});
  await new Promise((resolve, reject) => {
    subscription.on('error', reject);
    subscription.on('message', m => {
      if (got === 0) first = process.hrtime.bigint();
      m.ack();
      if (++got === N) resolve();
    });
  });
  const consumeS = Number(process.hrtime.bigint() - first) / 1e9;
  await subscription.close();
  await topic.delete();
  console.log(JSON.stringify({publish_per_s: N / publishS, consume_per_s: N / consumeS}));
}

main().catch(e => { console.error(e.message || e); process.exit(1); });
