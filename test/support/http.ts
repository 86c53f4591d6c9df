import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A tiny browser: one cookie jar (the `cookie` header it sends), fetch against a local server. */
export class Browser {
  cookie: string | undefined;
  /** `headers` go with every request (a `user-agent`, say). */
  constructor(
    private readonly base: string,
    private readonly headers: Record<string, string> = {},
  ) {}

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
      headers: this.cookie ? { ...this.headers, cookie: this.cookie } : this.headers,
    });
    const setCookies = response.headers.getSetCookie();
    if (setCookies.length > 0) this.cookie = mergeCookies(this.cookie, setCookies);
    return { status: response.status, body: await response.text() };
  }
}

/** The `cookie` header after a response's `set-cookie` headers: a cookie set to an empty value is gone. */
export function mergeCookies(header: string | undefined, setCookies: readonly string[]): string | undefined {
  const jar = new Map<string, string>();
  for (const pair of header?.split('; ') ?? []) {
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at), pair.slice(at + 1));
  }
  for (const setCookie of setCookies) {
    const pair = setCookie.split(';')[0]!;
    const at = pair.indexOf('=');
    const value = pair.slice(at + 1);
    if (value === '') jar.delete(pair.slice(0, at));
    else jar.set(pair.slice(0, at), value);
  }
  return jar.size === 0 ? undefined : [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
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
