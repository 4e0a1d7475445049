package main

import (
	"encoding/binary"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// waiter sleeps until a due time on the monotonic clock with microsecond
// precision. time.Sleep is not enough: when the process is idle the Go
// runtime waits in epoll with millisecond granularity, so sleeps overshoot
// by up to ~1 ms, which an open-loop generator would add to every latency.
// A timerfd read through the runtime's poller wakes on time instead.
type waiter struct {
	f    *os.File
	fd   int   // f's descriptor (f.Fd() would switch it to blocking mode)
	base int64 // CLOCK_MONOTONIC at the run's base time, in ns
	buf  [8]byte
}

// newWaiter makes a waiter whose due times count from base, which must be
// taken with monoNow at the same instant as the run's time.Time base.
func newWaiter(base int64) *waiter {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return &waiter{base: base} // falls back to time.Sleep
	}
	return &waiter{f: os.NewFile(uintptr(fd), "timerfd"), fd: fd, base: base}
}

func monoNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// sleep waits for d more, ending at due (both relative to the base).
func (w *waiter) sleep(due, d time.Duration) {
	if w.f == nil {
		time.Sleep(d)
		return
	}
	abs := w.base + int64(due)
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(abs)}
	if err := unix.TimerfdSettime(w.fd, unix.TFD_TIMER_ABSTIME, &spec, nil); err != nil {
		time.Sleep(d)
		return
	}
	if _, err := w.f.Read(w.buf[:]); err != nil {
		time.Sleep(d)
		return
	}
	_ = binary.LittleEndian.Uint64(w.buf[:]) // expirations; one
}

func (w *waiter) close() {
	if w.f != nil {
		w.f.Close()
	}
}
