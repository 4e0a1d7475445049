package main

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The generator is one epoll loop on one locked OS thread, as wrk is: per
// request one write and (usually) one read, no goroutine switch and no
// read that finds nothing. Its own cost per request is then small next to
// the server's, which matters when both share a 2-core machine, and its
// timing does not wait for the Go scheduler.

// rawConn is one non-blocking keep-alive connection of the loop.
type rawConn struct {
	fd    int
	buf   []byte
	r, w  int // unparsed response bytes are buf[r:w]
	busy  bool
	g     int           // request in flight: index in the due sequence (open) or request list
	due   time.Duration // when it was due (open) or sent (closed)
	sent  time.Duration
	kind  uint8
	dials int
}

type stats struct {
	sent, ok [numKinds]uint64
	statuses [600]uint64
	errs     uint64
	firstErr error
	done     atomic.Uint64 // answers, read by the main goroutine
	lat      histogram     // due (open) or send (closed) to answer
	svc      histogram     // send to answer
	late     histogram     // due to send: the pacer's lag plus waiting for a free connection
	pacer    histogram     // due to release by the pacer: the generator's own lag
	overflow uint64
}

type loop struct {
	addr  netip.AddrPort
	epfd  int
	tfd   int // timerfd, open loop only
	conns []*rawConn
	byFD  map[int]*rawConn
	tr    *traffic
	base  time.Time
	st    stats
}

func newLoop(addr string, n int, tr *traffic) (*loop, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-addr must be ip:port: %w", err)
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	l := &loop{addr: ap, epfd: epfd, tfd: -1, byFD: map[int]*rawConn{}, tr: tr}
	for range n {
		c := &rawConn{fd: -1, buf: make([]byte, 64<<10)}
		if err := l.dial(c); err != nil {
			l.close()
			return nil, fmt.Errorf("cannot connect to %s: %w", addr, err)
		}
		l.conns = append(l.conns, c)
	}
	return l, nil
}

func (l *loop) dial(c *rawConn) error {
	domain := unix.AF_INET
	var sa unix.Sockaddr
	if l.addr.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(l.addr.Port()), Addr: l.addr.Addr().As4()}
	} else {
		domain = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(l.addr.Port()), Addr: l.addr.Addr().As16()}
	}
	fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	// A blocking connect: loopback answers at once, and only dials block.
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return err
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return err
	}
	c.fd, c.r, c.w, c.busy = fd, 0, 0, false
	c.dials++
	l.byFD[fd] = c
	return nil
}

func (l *loop) drop(c *rawConn) {
	if c.fd >= 0 {
		unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
		unix.Close(c.fd)
		delete(l.byFD, c.fd)
		c.fd = -1
	}
	c.busy = false
	c.r, c.w = 0, 0
}

func (l *loop) close() {
	for _, c := range l.conns {
		l.drop(c)
	}
	if l.tfd >= 0 {
		unix.Close(l.tfd)
	}
	unix.Close(l.epfd)
}

func (l *loop) fail(c *rawConn, err error) {
	l.st.errs++
	if l.st.firstErr == nil {
		l.st.firstErr = err
	}
	l.drop(c)
}

func (l *loop) now() time.Duration { return time.Since(l.base) }

// send writes request i on an idle connection.
func (l *loop) send(c *rawConn, i int, due time.Duration) {
	if c.fd < 0 {
		if err := l.dial(c); err != nil {
			l.fail(c, err)
			return
		}
	}
	req := l.tr.reqs[i]
	c.kind = l.tr.kinds[i]
	l.st.sent[c.kind]++
	c.sent = l.now()
	c.due = due
	n, err := unix.Write(c.fd, req)
	if err != nil || n != len(req) {
		// Requests are small and one is in flight: a short write means
		// the connection is broken.
		if err == nil {
			err = errors.New("short write")
		}
		l.fail(c, err)
		return
	}
	c.busy = true
}

// readable reads what arrived on c; it returns true when a response is
// complete (then c is idle again, or closed if the server said so).
func (l *loop) readable(c *rawConn) (status int, complete bool) {
	for {
		if c.w == len(c.buf) {
			if c.r == 0 {
				l.fail(c, errTooLarge)
				return 0, false
			}
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		n, err := unix.Read(c.fd, c.buf[c.w:])
		if n > 0 {
			c.w += n
		}
		if err == unix.EAGAIN || err == unix.EINTR {
			break
		}
		if err != nil || n == 0 {
			if err == nil {
				err = errors.New("connection closed by the server")
			}
			l.fail(c, err)
			return 0, false
		}
		if c.w < len(c.buf) {
			break // the socket is probably drained; epoll says if not
		}
	}
	consumed, status, closeAfter, err := parseResponse(c.buf[c.r:c.w])
	if err != nil {
		l.fail(c, err)
		return 0, false
	}
	if consumed == 0 {
		return 0, false // incomplete
	}
	c.r += consumed
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
	c.busy = false
	if closeAfter {
		l.drop(c)
	}
	return status, true
}

// answered records a complete response on c.
func (l *loop) answered(c *rawConn, status int, warm time.Duration, open bool) {
	done := l.now()
	l.st.statuses[min(status, len(l.st.statuses)-1)]++
	if status >= 200 && status < 300 {
		l.st.ok[c.kind]++
	}
	l.st.done.Add(1)
	if c.due >= warm && (open || c.sent >= warm) {
		l.st.lat.record(done - c.due)
		l.st.svc.record(done - c.sent)
		if open {
			l.st.late.record(c.sent - c.due)
		}
	}
}

// closed sends back to back on every connection until stop, then waits
// (at most 5 s) for the answers in flight.
func (l *loop) closed(warm time.Duration, stop *atomic.Bool) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	next := 0
	for _, c := range l.conns {
		l.send(c, next%len(l.tr.reqs), l.now())
		next++
	}
	events := make([]unix.EpollEvent, len(l.conns)+1)
	var deadline time.Duration
	for {
		stopping := stop.Load()
		if stopping && deadline == 0 {
			deadline = l.now() + 5*time.Second
		}
		inflight := 0
		for _, c := range l.conns {
			if c.busy {
				inflight++
			} else if !stopping {
				l.send(c, next%len(l.tr.reqs), l.now())
				next++
				inflight++
			}
		}
		if stopping && (inflight == 0 || l.now() > deadline) {
			return
		}
		n, err := unix.EpollWait(l.epfd, events, 20)
		if err != nil && err != unix.EINTR {
			l.st.errs++
			return
		}
		for _, ev := range events[:max(n, 0)] {
			c := l.byFD[int(ev.Fd)]
			if c == nil || !c.busy {
				if c != nil && ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
					l.drop(c) // an idle keep-alive connection closed by the server
				}
				continue
			}
			if status, ok := l.readable(c); ok {
				l.answered(c, status, warm, false)
				if !stopping {
					l.send(c, next%len(l.tr.reqs), l.now())
					next++
				}
			}
		}
	}
}

// open releases request g at base + g*period until end, onto the first
// idle connection, or into a queue when all are busy (the wait is then
// part of its latency: no coordinated omission). A timerfd in the epoll
// set wakes the loop at the next due time, or at most every minGap when
// requests are closer together (several then go at once).
func (l *loop) open(period float64, warm, end time.Duration, baseMono int64) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return err
	}
	l.tfd = tfd
	tev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(tfd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, tfd, &tev); err != nil {
		return err
	}
	const minGap = 50 * time.Microsecond
	const queueCap = 1 << 20
	queue := make([]int, 0, 4096) // due requests waiting for a connection
	head := 0
	idle := make([]*rawConn, 0, len(l.conns))
	for _, c := range l.conns {
		idle = append(idle, c)
	}
	events := make([]unix.EpollEvent, len(l.conns)+1)
	at := func(g int) time.Duration { return time.Duration(float64(g) * period) }
	dispatch := func() {
		for head < len(queue) && len(idle) > 0 {
			c := idle[len(idle)-1]
			idle = idle[:len(idle)-1]
			g := queue[head]
			head++
			l.send(c, g%len(l.tr.reqs), at(g))
			if !c.busy { // the send failed; the connection redials next time
				idle = append(idle, c)
			}
		}
		if head == len(queue) {
			queue, head = queue[:0], 0
		}
	}
	g := 0
	var buf [8]byte
	armed := false
	for {
		now := l.now()
		for at(g) <= now && at(g) < end {
			if len(queue)-head >= queueCap {
				l.st.overflow++
			} else {
				queue = append(queue, g)
				if at(g) >= warm {
					l.st.pacer.record(now - at(g))
				}
			}
			g++
		}
		dispatch()
		finished := at(g) >= end
		busy := len(l.conns) - len(idle)
		if finished && head == len(queue) && busy == 0 {
			return nil
		}
		if !finished && !armed {
			next := max(at(g), now+minGap)
			spec := unix.ItimerSpec{Value: unix.NsecToTimespec(baseMono + int64(next))}
			if err := unix.TimerfdSettime(tfd, unix.TFD_TIMER_ABSTIME, &spec, nil); err != nil {
				return err
			}
			armed = true
		}
		timeout := -1
		if finished {
			timeout = 20 // draining the last answers
			if now > end+10*time.Second {
				return nil
			}
		}
		n, err := unix.EpollWait(l.epfd, events, timeout)
		if err != nil && err != unix.EINTR {
			return err
		}
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == tfd {
				unix.Read(tfd, buf[:])
				armed = false
				continue
			}
			c := l.byFD[int(ev.Fd)]
			if c == nil {
				continue
			}
			if !c.busy {
				if ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
					l.drop(c)
				}
				continue
			}
			status, ok := l.readable(c)
			if ok {
				l.answered(c, status, warm, true)
			}
			if !c.busy { // answered, or failed and dropped
				idle = append(idle, c)
			}
		}
	}
}

func monoNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
