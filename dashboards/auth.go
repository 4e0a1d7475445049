package dashboards

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/sites"
)

const sessionCookie = "tally_session"

// auth signs and checks the admin's session cookie. A session is
// "id.expiry.mac" with mac = HMAC(key, id, expiry). The key is derived from
// the session key and the admin's credentials, so changing the password
// ends every session; signing out records the id as revoked, in ClickHouse,
// so that the cookie stays dead across restarts and replicas.
type auth struct {
	key        []byte
	user, pass [sha256.Size]byte
	ttl        time.Duration
	secure     bool
	now        func() time.Time
	revoked    *revocations
	throttle   *throttle
}

// newAuth derives the signing key from the session key and the
// credentials.
func newAuth(sessionKey []byte, user, pass string, ttl time.Duration, secure bool, now func() time.Time, rev *revocations) *auth {
	a := &auth{
		user: sha256.Sum256([]byte(user)), pass: sha256.Sum256([]byte(pass)),
		ttl: ttl, secure: secure, now: now, revoked: rev, throttle: newThrottle(now),
	}
	m := hmac.New(sha256.New, sessionKey)
	m.Write([]byte("tally-session-key\x00"))
	m.Write(a.user[:])
	m.Write(a.pass[:])
	a.key = m.Sum(nil)
	return a
}

func (a *auth) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, a.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

func (a *auth) newSession() string {
	var id [16]byte
	rand.Read(id[:])
	sid := base64.RawURLEncoding.EncodeToString(id[:])
	exp := strconv.FormatInt(a.now().Add(a.ttl).Unix(), 10)
	return sid + "." + exp + "." + base64.RawURLEncoding.EncodeToString(a.mac("session", sid, exp))
}

// parseSession returns the id and expiry of a well-signed, unexpired
// session; it does not consult the revocations.
func (a *auth) parseSession(v string) (id string, exp int64, ok bool) {
	id, rest, ok1 := strings.Cut(v, ".")
	expS, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 {
		return "", 0, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac("session", id, expS)) {
		return "", 0, false
	}
	exp, err = strconv.ParseInt(expS, 10, 64)
	if err != nil || a.now().Unix() >= exp {
		return "", 0, false
	}
	return id, exp, true
}

func (a *auth) validSession(ctx context.Context, v string) bool {
	id, _, ok := a.parseSession(v)
	return ok && !a.revoked.has(ctx, id)
}

// csrf is the form token of a session: forms that change state must echo it.
func (a *auth) csrf(session string) string {
	return base64.RawURLEncoding.EncodeToString(a.mac("csrf", session))
}

// checkPassword compares in constant time, over fixed-size hashes so that
// the lengths do not leak either.
func (a *auth) checkPassword(user, pass string) bool {
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	return subtle.ConstantTimeCompare(u[:], a.user[:])&subtle.ConstantTimeCompare(p[:], a.pass[:]) == 1
}

// scope is what a request may see: one site (or all, for the admin home),
// and how to link within it.
type scope struct {
	Site   *sites.Site
	Base   string // URL prefix of the site's pages: /sites/x or /share/token
	Admin  bool
	Shared bool
	CSRF   string
}

func scopeOf(c *fiber.Ctx) *scope {
	s, _ := c.Locals("dashboards.scope").(*scope)
	if s == nil {
		s = &scope{}
	}
	return s
}

// secure sets the headers of every dashboard page: no framing, no caching
// of figures, and no Referer, which would leak share-link tokens.
func (d *Dashboards) secure(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

// admin lets signed-in admins through; others are sent to sign in (GET) or
// refused (anything else).
func (d *Dashboards) admin(c *fiber.Ctx) error {
	session := c.Cookies(sessionCookie)
	if !d.auth.validSession(c.UserContext(), session) {
		if c.Method() != fiber.MethodGet {
			return d.renderError(c, fiber.StatusUnauthorized, "Please sign in first.")
		}
		return c.Redirect("/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
	}
	c.Locals("dashboards.scope", &scope{Admin: true, CSRF: d.auth.csrf(session)})
	return c.Next()
}

// adminSite resolves the :site of an admin route.
func (d *Dashboards) adminSite(c *fiber.Ctx) error {
	s := scopeOf(c)
	site, ok := d.opts.Sites.Lookup(c.Params("site"))
	if !ok {
		return d.renderError(c, fiber.StatusNotFound, "There is no site with this name. Sites are declared in the sites file.")
	}
	s.Site, s.Base = site, "/sites/"+url.PathEscape(site.Domain)
	return c.Next()
}

// sharedSite resolves a share link; unknown and revoked links get the same
// 404 and no data.
func (d *Dashboards) sharedSite(c *fiber.Ctx) error {
	token := strings.Clone(c.Params("token"))
	l, ok, err := d.shares.Resolve(c.UserContext(), token)
	if err != nil {
		d.opts.Logger.Error("cannot resolve share link", "err", err)
		return d.renderError(c, fiber.StatusInternalServerError, "The dashboard could not be loaded. Please try again.")
	}
	site, known := d.opts.Sites.Lookup(l.Site)
	if !ok || !known {
		return d.renderError(c, fiber.StatusNotFound, "This share link does not exist or has been revoked.")
	}
	c.Locals("dashboards.scope", &scope{Site: site, Base: "/share/" + token, Shared: true})
	return c.Next()
}

func (d *Dashboards) checkCSRF(c *fiber.Ctx) error {
	want := scopeOf(c).CSRF
	if want == "" || subtle.ConstantTimeCompare([]byte(c.FormValue("csrf")), []byte(want)) != 1 {
		return d.renderError(c, fiber.StatusForbidden, "This form has expired. Go back, reload the page and try again.")
	}
	return c.Next()
}

// apiAuth accepts the admin's session (the admin's own, exact view) or a
// bearer token of the :site (a shared view: k and noise, like share links).
func (d *Dashboards) apiAuth(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	site, ok := d.opts.Sites.Lookup(c.Params("site"))
	token, bearer := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	admin := false
	switch {
	case d.auth.validSession(c.UserContext(), c.Cookies(sessionCookie)):
		admin = true
	case ok && bearer && site.HasAPIToken(strings.TrimSpace(token)):
	default:
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="tally stats"`)
		return c.Status(fiber.StatusUnauthorized).JSON(apiError{Error: "a bearer token of this site is required"})
	}
	if !ok {
		return c.Status(fiber.StatusNotFound).JSON(apiError{Error: "unknown site"})
	}
	c.Locals("dashboards.scope", &scope{Site: site, Admin: admin})
	return c.Next()
}

type loginView struct {
	page
	Next  string
	Error string
}

// safeNext keeps a post-sign-in redirect on this origin: a path that
// starts with one "/", parses as a bare path (no scheme, host or user),
// and holds no control character, space or backslash, which browsers or
// fasthttp would otherwise turn into another origin or another header.
func safeNext(next string) string {
	if len(next) == 0 || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	return next
}

func (d *Dashboards) loginPage(c *fiber.Ctx) error {
	return d.render(c, fiber.StatusOK, "login", loginView{page: d.newPage(c, "Sign in"), Next: safeNext(c.Query("next"))})
}

// login refuses a client only for its own failures (keyed by a hash that
// never holds its address), with a backoff that doubles per failure past
// a few free tries; other clients, the owner among them, are never slowed
// by someone else's storm.
func (d *Dashboards) login(c *fiber.Ctx) error {
	next := safeNext(strings.Clone(c.FormValue("next")))
	client := d.opts.ClientKey(c)
	if wait := d.auth.throttle.wait(client); wait > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		return d.render(c, fiber.StatusTooManyRequests, "login", loginView{page: d.newPage(c, "Sign in"), Next: next,
			Error: "Too many failed sign-ins from this client. Wait and try again."})
	}
	if !d.auth.checkPassword(c.FormValue("user"), c.FormValue("password")) {
		d.auth.throttle.fail(client)
		return d.render(c, fiber.StatusUnauthorized, "login", loginView{page: d.newPage(c, "Sign in"), Next: next,
			Error: "Wrong user name or password."})
	}
	d.auth.throttle.forget(client)
	c.Cookie(&fiber.Cookie{
		Name: sessionCookie, Value: d.auth.newSession(), Path: "/", HTTPOnly: true,
		Secure: d.auth.secure, SameSite: fiber.CookieSameSiteLaxMode, Expires: d.auth.now().Add(d.auth.ttl),
	})
	return c.Redirect(next, fiber.StatusSeeOther)
}

// logout revokes the session server-side: a copy of the cookie kept by
// anyone stops working too.
func (d *Dashboards) logout(c *fiber.Ctx) error {
	if id, exp, ok := d.auth.parseSession(c.Cookies(sessionCookie)); ok {
		if err := d.auth.revoked.add(c.UserContext(), id, exp); err != nil {
			d.opts.Logger.Error("cannot record the sign-out", "err", err)
			return d.renderError(c, fiber.StatusInternalServerError, "Signing out failed: the session could not be revoked. Try again.")
		}
	}
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: "", Path: "/", HTTPOnly: true, Secure: d.auth.secure,
		SameSite: fiber.CookieSameSiteLaxMode, Expires: time.Unix(0, 0), MaxAge: -1})
	return c.Redirect("/login", fiber.StatusSeeOther)
}
