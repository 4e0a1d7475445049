package dashboards

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/sites"
)

const sessionCookie = "tally_session"

// auth signs and checks the admin's session cookie. A session is
// "expiry.mac" with mac = HMAC(key, expiry): nothing is stored server-side,
// and changing the key ends every session.
type auth struct {
	key        []byte
	user, pass [sha256.Size]byte
	ttl        time.Duration
	secure     bool
	now        func() time.Time

	// Failed sign-ins are limited for the whole process, not per address:
	// the dashboards keep no client address, not even in memory.
	mu           sync.Mutex
	failWindow   time.Time
	failures     int
	maxPerMinute int
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
	exp := strconv.FormatInt(a.now().Add(a.ttl).Unix(), 10)
	return exp + "." + base64.RawURLEncoding.EncodeToString(a.mac("session", exp))
}

func (a *auth) validSession(v string) bool {
	exp, sig, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac("session", exp)) {
		return false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	return err == nil && a.now().Unix() < t
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

// allowAttempt reports whether a sign-in may be tried now.
func (a *auth) allowAttempt() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.now().Sub(a.failWindow) > time.Minute {
		a.failWindow, a.failures = a.now(), 0
	}
	max := a.maxPerMinute
	if max == 0 {
		max = 20
	}
	return a.failures < max
}

func (a *auth) failed() {
	a.mu.Lock()
	a.failures++
	a.mu.Unlock()
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
	if !d.auth.validSession(session) {
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
	case d.auth.validSession(c.Cookies(sessionCookie)):
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

func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (d *Dashboards) loginPage(c *fiber.Ctx) error {
	return d.render(c, fiber.StatusOK, "login", loginView{page: d.newPage(c, "Sign in"), Next: safeNext(c.Query("next"))})
}

func (d *Dashboards) login(c *fiber.Ctx) error {
	next := safeNext(strings.Clone(c.FormValue("next")))
	if !d.auth.allowAttempt() {
		return d.render(c, fiber.StatusTooManyRequests, "login", loginView{page: d.newPage(c, "Sign in"), Next: next,
			Error: "Too many failed sign-ins. Wait a minute and try again."})
	}
	if !d.auth.checkPassword(c.FormValue("user"), c.FormValue("password")) {
		d.auth.failed()
		return d.render(c, fiber.StatusUnauthorized, "login", loginView{page: d.newPage(c, "Sign in"), Next: next,
			Error: "Wrong user name or password."})
	}
	c.Cookie(&fiber.Cookie{
		Name: sessionCookie, Value: d.auth.newSession(), Path: "/", HTTPOnly: true,
		Secure: d.auth.secure, SameSite: fiber.CookieSameSiteLaxMode, Expires: d.auth.now().Add(d.auth.ttl),
	})
	return c.Redirect(next, fiber.StatusSeeOther)
}

func (d *Dashboards) logout(c *fiber.Ctx) error {
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: "", Path: "/", HTTPOnly: true, Secure: d.auth.secure,
		SameSite: fiber.CookieSameSiteLaxMode, Expires: time.Unix(0, 0), MaxAge: -1})
	return c.Redirect("/login", fiber.StatusSeeOther)
}
