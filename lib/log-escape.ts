// oxlint-disable-next-line no-control-regex -- finding control characters is the purpose here
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Makes attacker-influenced text safe for a single log line: control characters (CR, LF, ...)
 * become visible escapes and the result is cut to `max` characters.
 */
export function escapeForLog(text: string, max = 200): string {
  const escaped = text.replace(CONTROL_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}
