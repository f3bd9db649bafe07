import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { GitHubSecretScanningPublicKeys } from 'nestjs-api-key/leaks';

/** A local stand-in for GitHub's public-keys endpoint (tests never reach the network). */
describe('GitHubSecretScanningPublicKeys', () => {
  let server: Server;
  let url: string;
  let requests = 0;
  let status = 200;
  let current = 'first';
  const answer = () => ({
    public_keys: [{ key_identifier: current, key: `-----BEGIN PUBLIC KEY-----\n${current}`, is_current: true }],
  });
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/meta/public_keys/secret_scanning`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const ids = (keys: readonly { keyIdentifier: string }[]) => keys.map((key) => key.keyIdentifier);

  it('fetches once for concurrent callers and serves later calls from its cache', async () => {
    requests = 0;
    const source = new GitHubSecretScanningPublicKeys({ url });
    const answers = await Promise.all([source.publicKeys(false), source.publicKeys(false), source.publicKeys(true)]);
    expect(answers.map(ids)).toEqual([['first'], ['first'], ['first']]);
    expect(await source.publicKeys(false)).toBe(answers[0]);
    expect(requests).toBe(1);
  });

  it('refetches on an unknown identifier, at most once per minRefreshIntervalMs', async () => {
    requests = 0;
    current = 'first';
    const source = new GitHubSecretScanningPublicKeys({ url, minRefreshIntervalMs: 3_600_000 });
    await source.publicKeys(false);
    current = 'second';
    expect(ids(await source.publicKeys(true))).toEqual(['first']); // refreshed too recently
    expect(requests).toBe(1);
    const eager = new GitHubSecretScanningPublicKeys({ url, minRefreshIntervalMs: 1 });
    current = 'first';
    await eager.publicKeys(false);
    current = 'second';
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(ids(await eager.publicKeys(true))).toEqual(['second']);
  });

  it('refetches after maxAgeMs, keeps its keys while GitHub fails, and rejects when it never had any', async () => {
    current = 'first';
    status = 200;
    const source = new GitHubSecretScanningPublicKeys({
      url,
      maxAgeMs: 1,
      minRefreshIntervalMs: 1,
      maxStaleMs: 3_600_000,
    });
    await source.publicKeys(false);
    status = 500;
    await new Promise((resolve) => setTimeout(resolve, 5));
    requests = 0;
    expect(ids(await source.publicKeys(false))).toEqual(['first']);
    expect(requests).toBe(1); // it did ask GitHub again
    await expect(new GitHubSecretScanningPublicKeys({ url }).publicKeys(false)).rejects.toThrow(/500/);
    status = 200;
  });

  it('sends the token as a bearer token when given one', async () => {
    let authorization: string | undefined;
    server.prependOnceListener('request', (req) => (authorization = req.headers.authorization));
    await new GitHubSecretScanningPublicKeys({ url, token: 'gh-test-token' }).publicKeys(false);
    expect(authorization).toBe('Bearer gh-test-token');
  });
});
