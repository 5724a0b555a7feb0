// Web page sessions: the token a person signs in with, sealed (AES-256-GCM) into an HttpOnly,
// SameSite=Strict cookie. Nothing is kept on the server, so any process of a scale-out deployment
// reads any session, and every request authenticates the sealed token again through the one
// Authenticator: a token revoked or expired ends its sessions at once. The key is derived from the
// admin token, which every process shares; changing it ends every session.
//
// CSRF: every change is a POST carrying a token derived from the session's random nonce (HMAC), in a
// form field or (for scripts and the import upload) the X-CSRF-Token header or the `csrf` query
// parameter. The sign-in form has its own pre-session nonce cookie, so a login cannot be forged either.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import type { Principal } from '../../core/policy.js';
import { BerthError } from '../../errors.js';
import type { Authenticator } from '../auth.js';

export const SESSION_COOKIE = 'berth_session';
const PRE_COOKIE = 'berth_signin';
/** How long a session lasts from sign-in. */
const SESSION_MS = 12 * 3600 * 1000;

interface Sealed {
  /** the token's secret */
  t: string;
  /** random nonce: the CSRF token is derived from it */
  n: string;
  /** expiry, ms since the epoch */
  e: number;
}

export interface UiSession {
  principal: Principal;
  /** the CSRF token forms of this session carry */
  csrf: string;
}

const b64 = (buf: Buffer): string => buf.toString('base64url');

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class UiSessions {
  private readonly sealKey: Buffer;
  private readonly csrfKey: Buffer;

  constructor(
    secret: string,
    private readonly authn: Authenticator,
  ) {
    this.sealKey = Buffer.from(hkdfSync('sha256', secret, 'berth-ui', 'session seal', 32));
    this.csrfKey = Buffer.from(hkdfSync('sha256', secret, 'berth-ui', 'csrf', 32));
  }

  private seal(value: Sealed): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return b64(Buffer.concat([iv, cipher.getAuthTag(), body]));
  }

  private unseal(cookie: string | undefined): Sealed | undefined {
    if (cookie === undefined || cookie.length > 4096) return undefined;
    const raw = Buffer.from(cookie, 'base64url');
    if (raw.length < 29) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.sealKey, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      const value = JSON.parse(text) as Sealed;
      return typeof value.t === 'string' && typeof value.n === 'string' && typeof value.e === 'number' ? value : undefined;
    } catch {
      return undefined;
    }
  }

  private csrfOf(purpose: string, nonce: string): string {
    return b64(createHmac('sha256', this.csrfKey).update(`${purpose}:${nonce}`).digest());
  }

  private cookie(ctx: Context, name: string, value: string | null, path = '/'): void {
    ctx.cookies.set(name, value, { httpOnly: true, sameSite: 'strict', path, secure: ctx.secure, overwrite: true });
  }

  /** The signed-in session of this request, or undefined (none, broken, expired, or its token no longer valid). */
  async read(ctx: Context): Promise<UiSession | undefined> {
    const sealed = this.unseal(ctx.cookies.get(SESSION_COOKIE));
    if (!sealed || sealed.e < Date.now()) return undefined;
    const principal = await this.authn(sealed.t);
    if (!principal) return undefined;
    return { principal, csrf: this.csrfOf('session', sealed.n) };
  }

  /** Signs in with `secret`: the session cookie, or undefined for a secret no token has. */
  async signIn(ctx: Context, secret: string): Promise<Principal | undefined> {
    const principal = await this.authn(secret);
    if (!principal) return undefined;
    this.cookie(ctx, SESSION_COOKIE, this.seal({ t: secret, n: b64(randomBytes(18)), e: Date.now() + SESSION_MS }));
    this.cookie(ctx, PRE_COOKIE, null, '/ui');
    return principal;
  }

  signOut(ctx: Context): void {
    this.cookie(ctx, SESSION_COOKIE, null);
  }

  /** Fails CSRF_INVALID unless `presented` is this session's CSRF token. */
  check(session: UiSession, presented: string | undefined): void {
    if (presented === undefined || !sameText(presented, session.csrf)) {
      throw new BerthError('CSRF_INVALID', 'the form is stale or did not come from this site: reload the page and send it again', null);
    }
  }

  /** The CSRF token for the sign-in form (a fresh pre-session nonce cookie when there is none). */
  signInCsrf(ctx: Context): string {
    let nonce = ctx.cookies.get(PRE_COOKIE);
    if (nonce === undefined || !/^[A-Za-z0-9_-]{24}$/.test(nonce)) {
      nonce = b64(randomBytes(18));
      this.cookie(ctx, PRE_COOKIE, nonce, '/ui');
    }
    return this.csrfOf('sign-in', nonce);
  }

  /** Fails CSRF_INVALID unless `presented` belongs to this browser's sign-in form. */
  checkSignIn(ctx: Context, presented: string | undefined): void {
    const nonce = ctx.cookies.get(PRE_COOKIE);
    if (nonce === undefined || presented === undefined || !sameText(presented, this.csrfOf('sign-in', nonce))) {
      throw new BerthError('CSRF_INVALID', 'the sign-in form is stale or did not come from this site: reload the page and sign in again', null);
    }
  }

  /**
   * /api with the session cookie instead of an Authorization header (the upload form posts to the
   * import endpoint): the principal, when the request carries the session's CSRF token in the
   * X-CSRF-Token header or the `csrf` query parameter; CSRF_INVALID when it does not; undefined when
   * there is no valid session.
   */
  async forApi(ctx: Context): Promise<Principal | undefined> {
    const session = await this.read(ctx);
    if (!session) return undefined;
    const header = ctx.get('X-CSRF-Token');
    const query = ctx.query.csrf;
    this.check(session, header !== '' ? header : typeof query === 'string' ? query : undefined);
    ctx.state.uiSession = true;
    return session.principal;
  }
}
