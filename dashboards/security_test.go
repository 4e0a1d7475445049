package dashboards_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/gofiber/fiber/v2"

	"tally/dashboards"
	"tally/internal/fixture"
	"tally/sites"
)

// startLive serves the dashboards on a real loopback socket, so tests see
// the raw response bytes (an injected header) and can connect from
// different source addresses (127.0.0.x) as different clients.
func startLive(t *testing.T, sink interface{ Conn() driver.Conn }, set func(*dashboards.Options)) string {
	t.Helper()
	reg, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"example.com"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	opts := dashboards.Options{Conn: sink.Conn(), Sites: reg, AdminPassword: password,
		SessionKey: []byte("0123456789abcdef0123456789abcdef")}
	if set != nil {
		set(&opts)
	}
	d, err := dashboards.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	d.Register(app)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	t.Cleanup(func() { app.Shutdown() })
	return ln.Addr().String()
}

// rawPost sends a form from source address from (127.0.0.x) and returns
// the raw status line and header lines.
func rawPost(t *testing.T, addr, from, path, cookie string, form url.Values) (status int, headers []string) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := form.Encode()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n", path, addr, len(body))
	if cookie != "" {
		fmt.Fprintf(c, "Cookie: %s\r\n", cookie)
	}
	fmt.Fprintf(c, "\r\n%s", body)
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscanf(line, "HTTP/1.1 %d", &status)
	for {
		l, err := r.ReadString('\n')
		if err != nil || l == "\r\n" {
			break
		}
		headers = append(headers, strings.TrimRight(l, "\r\n"))
	}
	return status, headers
}

func header(headers []string, name string) []string {
	var out []string
	for _, h := range headers {
		if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

func TestSignInRedirectCannotInjectHeaders(t *testing.T) {
	addr := startLive(t, fixture.Empty(t), nil)
	for _, next := range []string{
		"/\r\nSet-Cookie: x=y",
		"/%0D%0ASet-Cookie:%20x=y", // sent encoded twice: decoded once by the form
		"/\nSet-Cookie: x=y",
		"/\rSet-Cookie: x=y",
		"/ok\x00\r\nX-Injected: 1",
		"//evil.example/",
		"/\\evil.example",
		"\\\\evil.example",
		" //evil.example",
		"\t/\t/evil.example",
		"https://evil.example/",
		"HTTPS://evil.example",
		"javascript:alert(1)",
		"/x\u2028y",
		"data:text/html,hi",
	} {
		status, hs := rawPost(t, addr, "127.0.0.1", "/login", "", url.Values{
			"user": {"admin"}, "password": {password}, "next": {next}})
		if status != http.StatusSeeOther {
			t.Fatalf("next=%q: status %d", next, status)
		}
		loc := header(hs, "Location")
		if len(loc) != 1 || !strings.HasPrefix(loc[0], "/") || strings.HasPrefix(loc[0], "//") || strings.ContainsAny(loc[0], "\\ \t") {
			t.Errorf("next=%q: Location %q", next, loc)
		}
		if n := len(header(hs, "Set-Cookie")); n != 1 || len(header(hs, "X-Injected")) != 0 {
			t.Errorf("next=%q: headers %q", next, hs)
		}
		for _, h := range header(hs, "Set-Cookie") {
			if strings.Contains(h, "x=y") {
				t.Errorf("next=%q: injected cookie %q", next, h)
			}
		}
	}
	// A same-origin path survives.
	_, hs := rawPost(t, addr, "127.0.0.1", "/login", "", url.Values{
		"user": {"admin"}, "password": {password}, "next": {"/sites/example.com?range=7d"}})
	if loc := header(hs, "Location"); len(loc) != 1 || loc[0] != "/sites/example.com?range=7d" {
		t.Errorf("plain next: Location %q", loc)
	}
}

func TestOwnerSignsInDuringAThrottleStorm(t *testing.T) {
	addr := startLive(t, fixture.Empty(t), nil)
	wrong := url.Values{"user": {"admin"}, "password": {"not the password"}}
	right := url.Values{"user": {"admin"}, "password": {password}}
	// A storm from two other clients: 60 failures each.
	limited := 0
	for i := 0; i < 60; i++ {
		for _, from := range []string{"127.0.0.2", "127.0.0.3"} {
			if status, _ := rawPost(t, addr, from, "/login", "", wrong); status == http.StatusTooManyRequests {
				limited++
			}
		}
	}
	if limited < 100 {
		t.Fatalf("the storm was throttled %d times of 120, want most of them", limited)
	}
	// The attacking client is refused even with the right password...
	if status, hs := rawPost(t, addr, "127.0.0.2", "/login", "", right); status != http.StatusTooManyRequests ||
		len(header(hs, "Retry-After")) != 1 {
		t.Fatalf("throttled client with the right password: %d %q", status, hs)
	}
	// ...the owner, who has not failed, signs in at once.
	if status, hs := rawPost(t, addr, "127.0.0.4", "/login", "", right); status != http.StatusSeeOther || len(header(hs, "Set-Cookie")) != 1 {
		t.Fatalf("owner during the storm: %d %q", status, hs)
	}
	// And an owner who mistyped a few times still gets in.
	for i := 0; i < 3; i++ {
		rawPost(t, addr, "127.0.0.5", "/login", "", wrong)
	}
	if status, _ := rawPost(t, addr, "127.0.0.5", "/login", "", right); status != http.StatusSeeOther {
		t.Fatalf("owner after 3 typos: %d", status)
	}
}

func get(t *testing.T, addr, path, cookie string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	req.Header.Set("Cookie", cookie)
	client := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func signInLive(t *testing.T, addr string) (cookie string) {
	t.Helper()
	status, hs := rawPost(t, addr, "127.0.0.1", "/login", "", url.Values{"user": {"admin"}, "password": {password}})
	if status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", status)
	}
	return strings.Split(header(hs, "Set-Cookie")[0], ";")[0]
}

func TestLogoutRevokesTheSessionEverywhere(t *testing.T) {
	sink := fixture.Empty(t)
	addr := startLive(t, sink, nil)
	replica := startLive(t, sink, nil) // same key and database: a second replica, or a restart
	cookie := signInLive(t, addr)
	if get(t, addr, "/", cookie) != http.StatusOK || get(t, replica, "/", cookie) != http.StatusOK {
		t.Fatal("the session does not work before signing out")
	}
	csrf := csrfOf(t, addr, cookie)
	if status, _ := rawPost(t, addr, "127.0.0.1", "/logout", cookie, url.Values{"csrf": {csrf}}); status != http.StatusSeeOther {
		t.Fatalf("logout: %d", status)
	}
	// A copy of the cookie kept by anyone is refused, here at once...
	if got := get(t, addr, "/", cookie); got != http.StatusSeeOther {
		t.Errorf("old cookie after logout: %d, want a redirect to sign in", got)
	}
	if got := get(t, addr, "/api/stats/example.com/totals", cookie); got != http.StatusUnauthorized {
		t.Errorf("old cookie on the API after logout: %d", got)
	}
	// ...on the other replica within its refresh interval, and after a
	// restart.
	deadline := time.Now().Add(10 * time.Second)
	for get(t, replica, "/", cookie) != http.StatusSeeOther {
		if time.Now().After(deadline) {
			t.Fatal("the other replica still accepts the signed-out cookie")
		}
		time.Sleep(200 * time.Millisecond)
	}
	restarted := startLive(t, sink, nil)
	if got := get(t, restarted, "/", cookie); got != http.StatusSeeOther {
		t.Errorf("old cookie after a restart: %d", got)
	}
}

func csrfOf(t *testing.T, addr, cookie string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Header.Set("Cookie", cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	bufio.NewReader(res.Body).WriteTo(&b)
	_, rest, ok := strings.Cut(b.String(), `name="csrf" value="`)
	if !ok {
		t.Fatal("no CSRF token on the home page")
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func TestPasswordChangeEndsSessions(t *testing.T) {
	sink := fixture.Empty(t)
	cookie := signInLive(t, startLive(t, sink, nil))
	changed := startLive(t, sink, func(o *dashboards.Options) { o.AdminPassword = "a new long password" })
	if got := get(t, changed, "/", cookie); got != http.StatusSeeOther {
		t.Errorf("a session of the old password: %d", got)
	}
}

func TestCookiesAreSecureOverHTTPS(t *testing.T) {
	sink := fixture.Empty(t)
	for _, c := range []struct {
		name   string
		set    func(*dashboards.Options)
		secure bool
	}{
		{"plain http", nil, false},
		{"https public URL", func(o *dashboards.Options) { o.PublicURL = "https://stats.example.com" }, true},
		{"TLS", func(o *dashboards.Options) { o.TLS = true }, true},
		{"explicitly off", func(o *dashboards.Options) { o.TLS, o.InsecureCookies = true, true }, false},
	} {
		addr := startLive(t, sink, c.set)
		_, hs := rawPost(t, addr, "127.0.0.1", "/login", "", url.Values{"user": {"admin"}, "password": {password}})
		sc := header(hs, "Set-Cookie")
		if len(sc) != 1 || strings.Contains(strings.ToLower(sc[0]), "; secure") != c.secure {
			t.Errorf("%s: Set-Cookie %q, want secure=%v", c.name, sc, c.secure)
		}
	}
}
