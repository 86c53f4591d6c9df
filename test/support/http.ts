import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A tiny browser: one cookie jar, fetch against a local server. */
export class Browser {
  cookie: string | undefined;
  constructor(private readonly base: string) {}

  async get(path: string): Promise<{ status: number; body: string }> {
    return this.request('GET', path, undefined, 'follow');
  }

  /** A form post (url-encoded) when `form` is given, otherwise a POST without a body. Redirects are not followed. */
  async post(path: string, form?: Record<string, string>): Promise<{ status: number; body: string }> {
    return this.request('POST', path, form && new URLSearchParams(form), 'manual');
  }

  private async request(
    method: string,
    path: string,
    body: URLSearchParams | undefined,
    redirect: 'follow' | 'manual',
  ) {
    const response = await fetch(this.base + path, {
      method,
      body,
      redirect,
      headers: this.cookie ? { cookie: this.cookie } : {},
    });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';')[0];
    return { status: response.status, body: await response.text() };
  }
}

export async function listen(server: Server): Promise<{ base: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
