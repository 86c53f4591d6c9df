// What the account page shows about each signed-in device, recorded by the store's `describe` option.

const BROWSERS = [
  [/Edg(?:e|A|iOS)?\/(\d+)/, 'Edge'],
  [/OPR\/(\d+)/, 'Opera'],
  [/Firefox\/(\d+)/, 'Firefox'],
  [/HeadlessChrome\/(\d+)/, 'Headless Chrome'],
  [/(?:Chrome|CriOS)\/(\d+)/, 'Chrome'],
  [/Version\/(\d+)[\d.]* (?:Mobile\/\S+ )?Safari\//, 'Safari'],
  [/curl\/(\d+)/, 'curl'],
  [/^node$|undici/, 'Node.js'],
];

const SYSTEMS = [
  [/Windows/, 'Windows'],
  [/iPhone|iPad|iPod/, 'iOS'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/Android/, 'Android'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux'],
];

/** A user agent as a person reads it: "Firefox 133 on Windows". */
export function deviceLabel(userAgent) {
  const text = typeof userAgent === 'string' ? userAgent.slice(0, 500) : '';
  if (text === '') return 'Unknown device';
  const browser = BROWSERS.find(([pattern]) => pattern.test(text));
  const system = SYSTEMS.find(([pattern]) => pattern.test(text));
  const version = browser && text.match(browser[0])?.[1];
  const name = browser ? `${browser[1]}${version ? ` ${version}` : ''}` : text.split(/[\s/]/)[0].slice(0, 30);
  return system ? `${name} on ${system[1]}` : name;
}

/** The client's address as a person reads it (no IPv4-mapped IPv6 prefix). */
function clientAddress(req) {
  return (req.ip ?? '').replace(/^::ffff:/, '') || null;
}

/**
 * The store's `describe` option: recorded with a signed-in session's row when it is created or its user changes
 * (so `signedInAt` is when this device signed in). Never the session's data: only what the account page shows.
 */
export function describeDevice(session, req) {
  if (session.userId === undefined || req === undefined) return undefined;
  return { device: deviceLabel(req.get('user-agent')), ip: clientAddress(req), signedInAt: new Date().toISOString() };
}
