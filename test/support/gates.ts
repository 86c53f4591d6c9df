import assert from 'node:assert/strict';
import { eventually } from './database.js';

/** Requests that wait, once they have their session, until the test lets them go on. */
export class Gates {
  readonly #waiting = new Map<string, () => void>();
  wait(name: string): Promise<void> {
    return new Promise((resolve) => this.#waiting.set(name, resolve));
  }
  async reached(name: string): Promise<void> {
    assert.ok(await eventually(async () => this.#waiting.has(name), 10_000), `request ${name} reached its gate`);
  }
  open(name: string): void {
    this.#waiting.get(name)?.();
    this.#waiting.delete(name);
  }
}
