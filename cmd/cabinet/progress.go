package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressView shows a bar on a terminal and a quiet line every few
// seconds otherwise.
type progressView struct {
	quiet    bool
	terminal bool
	mu       sync.Mutex
	bar      *progressbar.ProgressBar
	last     time.Time
	every    time.Duration
	start    time.Time // of the first update
}

// stderrLine keeps the lines written on standard error whole while a
// progress bar is drawn there: printStderr clears the bar before its
// line, and the bar is drawn again at its next update. A warning used to
// go on the end of the bar's line ("... [0s:1s]warning: ..."), which the
// next draw overwrote. It is package state as the terminal it guards is
// the process's.
var stderrLine struct {
	sync.Mutex
	bar *progressbar.ProgressBar // drawn on standard error, or nil
}

// printStderr prints line and a newline on standard error, on a line of
// its own.
func printStderr(line string) {
	stderrLine.Lock()
	defer stderrLine.Unlock()
	if stderrLine.bar != nil {
		stderrLine.bar.Clear()
	}
	fmt.Fprintln(os.Stderr, line)
}

func newProgressView(quiet bool) *progressView {
	// Off a terminal the first line comes after a few seconds too, so
	// short commands (and their one-line errors) print nothing else.
	return &progressView{quiet: quiet, terminal: isTerminal(), every: 5 * time.Second, last: time.Now()}
}

// update shows done of total bytes with a description (files, stage).
// update shows done of total bytes under desc; a total below 0 is not
// known yet (a scan): then done is shown as bytes found, with no share.
func (p *progressView) update(desc string, done, total int64) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.start.IsZero() {
		p.start = time.Now()
	}
	var left string
	if d, ok := timeLeft(done, total, time.Since(p.start)); ok {
		left = ", " + d.String() + " left"
	}
	if p.terminal {
		stderrLine.Lock()
		defer stderrLine.Unlock()
		if p.bar == nil {
			opts := []progressbar.Option{
				progressbar.OptionSetWriter(os.Stderr),
				progressbar.OptionShowBytes(true),
				// The bar's own prediction divides by the rate since
				// the start: bytes count when a file is read whole, so
				// after a small file it predicted "[0s:58h15m3s]" for a
				// backup of seconds. timeLeft, in the description, waits
				// for a share of the bytes.
				progressbar.OptionSetPredictTime(false),
				progressbar.OptionSetElapsedTime(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100 * time.Millisecond),
				progressbar.OptionClearOnFinish(),
			}
			// A terminal that reports no width (a bare pty, some serial
			// consoles) got a bar of none: "||". It keeps the fixed 30.
			if cols, _, err := term.GetSize(int(os.Stderr.Fd())); err == nil && cols > 0 {
				opts = append(opts, progressbar.OptionFullWidth())
			}
			p.bar = progressbar.NewOptions64(total, opts...)
			stderrLine.bar = p.bar
		}
		if p.bar.GetMax64() != total {
			p.bar.ChangeMax64(total)
		}
		p.bar.Describe(desc + left)
		p.bar.Set64(done)
		return
	}
	if time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	if total < 0 {
		printStderr(fmt.Sprintf("%s, %s found", desc, humanBytes(done)))
		return
	}
	pct := 0.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	printStderr(fmt.Sprintf("%s, %s of %s (%.0f%%)%s", desc, humanBytes(done), humanBytes(total), pct, left))
}

// timeLeft estimates the time left from done of total bytes after
// elapsed, once the estimate means something: after 2 seconds and 1 % of
// the bytes, and not when all is done (a scan's total grows as it goes).
func timeLeft(done, total int64, elapsed time.Duration) (time.Duration, bool) {
	if elapsed < 2*time.Second || done <= 0 || done >= total || done*100 < total {
		return 0, false
	}
	left := time.Duration(float64(elapsed) * float64(total-done) / float64(done))
	return left.Round(time.Second), true
}

func (p *progressView) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		stderrLine.Lock()
		p.bar.Finish()
		if stderrLine.bar == p.bar {
			stderrLine.bar = nil
		}
		stderrLine.Unlock()
		p.bar = nil
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// plural is "1 warning", "2 warnings": the noun with an s but for one.
func plural[N ~int | ~int64](n N, noun string) string { return counted(n, noun, noun+"s") }

// counted is "1 entry", "2 entries": n with the noun for its number.
func counted[N ~int | ~int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
